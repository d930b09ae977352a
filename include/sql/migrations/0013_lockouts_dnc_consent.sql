-- Outcome lockouts, the abandonment guard, do-not-call list age and consent.
--
-- The dialer may report two more outcomes (dial-task contract version 2): 'abandoned' (answered,
-- but no agent or message within the dialer's limit) and 'machine' (answering-machine detection).
ALTER TABLE call_records DROP CONSTRAINT IF EXISTS call_records_outcome_check;
ALTER TABLE call_records ADD CONSTRAINT call_records_outcome_check CHECK (outcome IN
    ('answered', 'converted', 'voicemail', 'busy', 'no_answer', 'failed', 'opted_out', 'abandoned', 'machine'));

-- When the campaign's abandonment rate went over its limit; NULL while it is under. The sensor
-- alerts when it sets this, not on every poke, and tops up again once it clears it.
ALTER TABLE campaigns ADD COLUMN abandon_guard_since timestamptz;
-- When the campaign's list was last scrubbed against the national do-not-call registry.
ALTER TABLE campaigns ADD COLUMN dnc_scrubbed_at timestamptz;

-- The consent a contact gave, where the campaign needs one (config requires_consent).
ALTER TABLE contacts ADD COLUMN consent_at timestamptz;
ALTER TABLE contacts ADD COLUMN consent_basis text CHECK (consent_basis IS NULL OR btrim(consent_basis) <> '');

-- Where a blacklist entry came from, and the date of that list: a registry or vendor extract.
ALTER TABLE blacklist ADD COLUMN source text CHECK (source IS NULL OR btrim(source) <> '');
ALTER TABLE blacklist ADD COLUMN source_as_of date;

-- The abandonment rate counts a campaign's recent calls by outcome.
CREATE INDEX call_records_campaign_started_idx ON call_records (campaign_id, started_at);
