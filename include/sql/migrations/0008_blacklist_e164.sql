-- Blacklist rows hold E.164 numbers only, so that an entry matches its contacts (stored E.164) by
-- plain equality, in PostgreSQL and in the Redis set. SQL cannot parse phone numbers, so the rows
-- not already in E.164 shape move to blacklist_rejected here, and the Python step of the next
-- migration (0009) brings back every one phonenumbers can read. What it cannot read stays in
-- blacklist_rejected, and the send-time screen still blocks any number whose digits end with the
-- entry's: an entry never silently stops blocking.
CREATE TABLE blacklist_rejected (
    id               bigserial PRIMARY KEY,
    phone            text NOT NULL,            -- as it was written
    digits           text NOT NULL,            -- its digits, leading zeros stripped: the safe-side match
    campaign_id      bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    reason           text NOT NULL,
    expires_at       timestamptz,
    created_at       timestamptz NOT NULL,
    refused_reason   text NOT NULL,
    rejected_at      timestamptz NOT NULL DEFAULT now()
);

WITH moved AS (
    DELETE FROM blacklist
    WHERE phone !~ '^\+[1-9][0-9]{6,14}$'
    RETURNING phone, campaign_id, reason, expires_at, created_at
)
INSERT INTO blacklist_rejected (phone, digits, campaign_id, reason, expires_at, created_at, refused_reason)
SELECT phone, ltrim(regexp_replace(phone, '[^0-9]', '', 'g'), '0'), campaign_id, reason, expires_at, created_at,
       'not_e164'
FROM moved;

ALTER TABLE blacklist ADD CONSTRAINT blacklist_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{6,14}$');
