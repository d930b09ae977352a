-- One row per contact for the report's CSV, streamed in id order.
SELECT id AS contact_id, external_ref, phone, status, attempts, last_outcome, last_attempt_at, status_reason
FROM contacts
WHERE campaign_id = %(campaign_id)s
ORDER BY id
