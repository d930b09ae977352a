-- Move rows whose number has a different E.164 form (a trunk 0 kept after the country code:
-- +44 020 ...) onto the stage under that form, scope, reason and expiry kept; the merge that
-- follows puts them back, joined with any entry the form already has.
WITH moved AS (
    DELETE FROM blacklist b
    USING unnest(%(ids)s::bigint[], %(phones)s::text[]) AS u(id, phone)
    WHERE b.id = u.id
    RETURNING u.phone, b.campaign_id, b.reason, b.expires_at
)
INSERT INTO blacklist_incoming (phone, campaign_id, reason, expires_at)
SELECT phone, campaign_id, reason, expires_at FROM moved
