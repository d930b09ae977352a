-- Claim the next eligible contacts in one statement. SKIP LOCKED lets concurrent dispatchers
-- (shards of one campaign, or a retry racing a zombie) take disjoint contacts.
-- Order: the operator's priority, then the answer model's score at the contact's local hour of
-- week now, then fewer attempts, then the oldest contact.
WITH picked AS (
    SELECT c.id
    FROM contacts c
    LEFT JOIN answer_rate_by_hour h ON h.hour_of_week =
        (extract(isodow FROM %(now)s::timestamptz AT TIME ZONE c.timezones[1])::int - 1) * 24
        + extract(hour FROM %(now)s::timestamptz AT TIME ZONE c.timezones[1])::int
    WHERE c.campaign_id = %(campaign_id)s
      AND c.status IN ('pending', 'failed')
      AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= now())
      AND c.attempts < %(max_attempts)s
      AND c.window_keys <> '{}'
      AND c.window_keys <@ %(open_keys)s::text[]
      AND NOT EXISTS (
          SELECT 1 FROM blacklist b
          WHERE b.phone = c.phone
            AND (b.campaign_id IS NULL OR b.campaign_id = c.campaign_id)
            AND (b.expires_at IS NULL OR b.expires_at > now()))
      -- The cap probe runs only when some cap applies (OR evaluates left to right).
      AND (%(no_caps)s::boolean OR (
          SELECT count(*) FROM dial_tasks t
          WHERE t.phone = c.phone AND t.status <> 'expired' AND t.claimed_at > now() - interval '24 hours'
      ) < LEAST(coalesce(%(cap_24h)s::int, 2147483647),
                coalesce((%(legal_caps)s::jsonb ->> c.jurisdiction)::int, 2147483647)))
      AND (%(shard_count)s::int = 1 OR mod(c.id, %(shard_count)s::int) = %(shard)s::int)
    ORDER BY c.priority DESC, coalesce(h.rate, 0) * coalesce(c.answer_affinity, 1) DESC, c.attempts, c.id
    LIMIT %(limit)s
    FOR UPDATE OF c SKIP LOCKED
), claimed AS (
    UPDATE contacts c
    SET status = 'in_flight', attempts = c.attempts + 1, dispatches = c.dispatches + 1,
        last_attempt_at = now(), next_attempt_at = NULL
    FROM picked p
    WHERE c.id = p.id
    RETURNING c.id, c.campaign_id, c.phone, c.attempts, c.dispatches, c.window_keys
)
INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, not_after)
SELECT 'c' || cl.campaign_id || '-' || cl.id || '-' || cl.dispatches,
       cl.campaign_id, cl.id, cl.phone, cl.attempts, %(run_id)s,
       LEAST(%(run_end)s::timestamptz,
             (SELECT min((%(closes_at)s::jsonb ->> k)::timestamptz) FROM unnest(cl.window_keys) AS k))
FROM claimed cl
RETURNING dial_attempt_id, contact_id, phone, attempt, not_after
