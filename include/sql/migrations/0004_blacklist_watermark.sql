-- Dispatch marks blacklisted contacts from the entries added since it last looked, not by
-- rescanning a million-contact campaign on every poke.
ALTER TABLE campaigns ADD COLUMN blacklist_checked_at timestamptz;
CREATE INDEX blacklist_created_idx ON blacklist (created_at);
