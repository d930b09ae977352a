-- Claimed tasks that must not be sent after all (the number is on the Redis opt-out set):
-- the claim is undone and the contact is blocked, in one statement.
WITH revoked AS (
    DELETE FROM dial_tasks t
    WHERE t.dial_attempt_id = ANY(%(ids)s::text[]) AND t.status = 'claimed'
    RETURNING t.contact_id
)
UPDATE contacts c
SET status = 'blacklisted', status_reason = %(reason)s, attempts = c.attempts - 1
FROM revoked r
WHERE c.id = r.contact_id AND c.status = 'in_flight'
