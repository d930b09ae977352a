-- When the sensor last measured the campaign's abandonment rate: an idle poke (no new results,
-- the guard not holding) measures it again only after a while, so it stays one index probe.
ALTER TABLE campaigns ADD COLUMN abandon_rate_checked_at timestamptz;
