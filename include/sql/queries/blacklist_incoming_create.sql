-- Numbers on their way onto the blacklist, already E.164: filled with COPY, merged in one
-- statement (blacklist_incoming_merge), gone at commit.
CREATE TEMP TABLE IF NOT EXISTS blacklist_incoming (
    phone text NOT NULL, campaign_id bigint, reason text, expires_at timestamptz
) ON COMMIT DROP
