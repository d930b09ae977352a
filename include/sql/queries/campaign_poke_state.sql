-- What a poke finds before it does anything, in one round trip of index probes: whether call
-- records wait to be ingested, whether any open dial task is past its expiry cut-off (the expiry
-- statement, which writes, runs only then), and the abandonment guard's state.
SELECT EXISTS (SELECT 1 FROM call_records
               WHERE campaign_id = %(campaign_id)s AND ingested_at IS NULL) AS waiting,
       EXISTS (SELECT 1 FROM dial_tasks
               WHERE campaign_id = %(campaign_id)s AND status IN ('claimed', 'sent')
                 AND not_after <= now() - make_interval(secs => %(max_call_s)s + %(grace_s)s)) AS expirable,
       c.abandon_guard_since, c.abandon_rate_checked_at
FROM campaigns c
WHERE c.id = %(campaign_id)s
