-- Dial tasks that can no longer ring: claimed and never sent past not_after, or sent with no call
-- record by not_after plus the grace period. An expired task is not an attempt, and the contact
-- becomes eligible again.
WITH expired AS (
    UPDATE dial_tasks t
    SET status = 'expired', completed_at = now()
    WHERE t.campaign_id = %(campaign_id)s
      AND ((t.status = 'claimed' AND t.not_after <= now())
        OR (t.status = 'sent' AND t.not_after + make_interval(secs => %(grace_s)s) <= now()))
      AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id)
    RETURNING t.contact_id, t.attempt
)
UPDATE contacts c
SET status = CASE WHEN c.attempts - 1 = 0 THEN 'pending' ELSE 'failed' END,
    attempts = c.attempts - 1,
    next_attempt_at = NULL
FROM expired e
WHERE c.id = e.contact_id AND c.status = 'in_flight' AND c.attempts = e.attempt
RETURNING c.id
