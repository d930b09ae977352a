-- Claimed but never marked sent: a dispatcher died between claim and send. Re-send these first,
-- under the same dial_attempt_id, so a dialer that did get them can drop the repeat. One whose
-- result has come was dialed: it is never sent again (ingest completes it).
SELECT t.dial_attempt_id, t.contact_id, t.phone, t.attempt, t.not_after
FROM dial_tasks t
WHERE t.campaign_id = %(campaign_id)s AND t.status = 'claimed' AND t.not_after > now()
  -- A shard resends only its own contacts: another shard's claims are that shard's to send.
  AND (%(shard_count)s::int = 1 OR mod(t.contact_id, %(shard_count)s::int) = %(shard)s::int)
  AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id)
ORDER BY t.claimed_at, t.dial_attempt_id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
