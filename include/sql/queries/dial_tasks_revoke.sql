-- Claimed tasks that must not be sent after all (a blacklist entry or the Redis opt-out set
-- blocks the number at the moment of sending): the claim is undone and the contact is blocked,
-- with the reason, in one statement.
WITH blocked AS (
    SELECT * FROM unnest(%(ids)s::text[], %(reasons)s::text[]) AS r(dial_attempt_id, reason)
), revoked AS (
    DELETE FROM dial_tasks t
    USING blocked r
    WHERE t.dial_attempt_id = r.dial_attempt_id AND t.status = 'claimed'
    RETURNING t.contact_id, r.reason
)
UPDATE contacts c
SET status = 'blacklisted', status_reason = r.reason, attempts = c.attempts - 1
FROM revoked r
WHERE c.id = r.contact_id AND c.status = 'in_flight'
