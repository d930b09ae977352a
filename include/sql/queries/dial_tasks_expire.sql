-- Dial tasks that can no longer ring, with no call record: not_after is the last moment a call may
-- START, so a task is over only once a call started then could have ended (the campaign's
-- max_call_duration_s) plus the grace period. Until then its contact stays in flight and is not
-- dialed again. A task claimed and never marked sent waits as long: its send may have reached SQS.
-- An expired task is not an attempt, and its contact becomes eligible again, unless a newer
-- attempt has already been claimed. A result that comes after all is still applied by ingest.
-- The cut-off is computed once, so the campaign's open tasks past it are one range of an index
-- per status (dial_tasks_open_status_not_after_idx), not every open task read and tested.
WITH expired AS (
    UPDATE dial_tasks t
    SET status = 'expired', completed_at = now()
    WHERE t.campaign_id = %(campaign_id)s
      AND t.status IN ('claimed', 'sent')
      AND t.not_after <= now() - make_interval(secs => %(max_call_s)s + %(grace_s)s)
      AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id)
    RETURNING t.contact_id, t.attempt, substring(t.dial_attempt_id FROM '-([0-9]+)$')::int AS seq
)
UPDATE contacts c
SET status = CASE WHEN c.attempts - 1 = 0 THEN 'pending' ELSE 'failed' END,
    attempts = c.attempts - 1,
    next_attempt_at = NULL
FROM expired e
WHERE c.id = e.contact_id AND c.status = 'in_flight' AND c.dispatches = e.seq
RETURNING c.id
