-- The next page of one time zone's eligible contacts, in claim order, after the last key read.
-- Read without locks: dial_tasks_claim.sql locks and re-checks the ones dispatch picks. The
-- order is contacts_claim_order_idx's, so the walk reads only the rows it returns (and the
-- ineligible ones in between), never the rest of the campaign.
SELECT c.id, c.priority, coalesce(c.answer_affinity, 1)::float8 AS affinity, c.attempts
FROM contacts c
WHERE c.campaign_id = %(campaign_id)s
  AND c.timezones[1] = %(zone)s
  AND c.status IN ('pending', 'failed')
  AND (-c.priority, -coalesce(c.answer_affinity, 1), c.attempts, c.id)
      > (%(after_priority)s::int, %(after_affinity)s::real, %(after_attempts)s::int, %(after_id)s::bigint)
  AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= now())
  AND c.attempts < %(max_attempts)s
  AND c.window_keys <> '{}' AND c.window_keys <@ %(open_keys)s::text[]
  AND (%(shard_count)s::int = 1 OR mod(c.id, %(shard_count)s::int) = %(shard)s::int)
  -- Probed per contact as the walk reaches it (a scalar subquery is never turned into a join):
  -- a hash anti-join would read the whole zone before the walk could stop.
  AND (SELECT b.phone FROM blacklist b
       WHERE b.phone = c.phone
         AND (b.campaign_id IS NULL OR b.campaign_id = c.campaign_id)
         AND (b.expires_at IS NULL OR b.expires_at > now())
       LIMIT 1) IS NULL
  -- The cap probe runs only when some cap applies (OR evaluates left to right).
  AND (%(no_caps)s::boolean OR (
      SELECT count(*) FROM dial_tasks t
      WHERE t.phone = c.phone AND t.status <> 'expired' AND t.claimed_at > now() - interval '24 hours'
  ) < LEAST(coalesce(%(cap_24h)s::int, 2147483647),
            coalesce((%(legal_caps)s::jsonb ->> c.jurisdiction)::int, 2147483647)))
ORDER BY -c.priority, -coalesce(c.answer_affinity, 1), c.attempts, c.id
LIMIT %(limit)s
