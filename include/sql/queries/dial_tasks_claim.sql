-- Claim the contacts dispatch picked (dial_tasks_claim_walk.sql, merged across zones in claim
-- order): lock them, check again that each is still eligible, and write the dial tasks, in one
-- statement. SKIP LOCKED lets concurrent dispatchers (shards of one campaign, or a retry racing a
-- zombie) take disjoint contacts; a row another transaction changed since the walk read it is
-- re-read under the lock and these checks drop it. The 24 h caps count under the per-phone locks
-- dial_tasks_claim_lock.sql took in this transaction, and a run with a contact limit claims at most
-- what is left of it, counted under the run's lock: both hold however many claims run at once.
WITH picked AS (
    SELECT c.id
    FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS p(id, ord)
    -- Each picked contact by its primary key, whatever the statistics say: a hash join would read,
    -- and check, every contact of the campaign (a freshly loaded one is not analyzed yet).
    CROSS JOIN LATERAL (SELECT * FROM contacts c WHERE c.id = p.id OFFSET 0) c
    WHERE c.campaign_id = %(campaign_id)s
      AND c.status IN ('pending', 'failed')
      AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= now())
      AND c.attempts < %(max_attempts)s
      AND c.window_keys <> '{}' AND c.window_keys <@ %(open_keys)s::text[]
      -- Probed per contact, by number (a scalar subquery is never turned into a join): as an
      -- anti-join, PostgreSQL hashes the whole blacklist for every chunk once the list is larger
      -- than the chunk, and a do-not-call extract is far larger than any chunk.
      AND (SELECT b.phone FROM blacklist b
           WHERE b.phone = c.phone
             AND (b.campaign_id IS NULL OR b.campaign_id = c.campaign_id)
             AND (b.expires_at IS NULL OR b.expires_at > now())
           LIMIT 1) IS NULL
      -- An expired task whose result has come was a call after all: it counts before its ingest.
      AND (%(no_caps)s::boolean OR (
          SELECT count(*) FROM dial_tasks t
          WHERE t.phone = c.phone AND t.status <> 'expired' AND t.claimed_at > now() - interval '24 hours'
      ) + (
          SELECT count(*) FROM dial_tasks t
          WHERE t.phone = c.phone AND t.status = 'expired' AND t.claimed_at > now() - interval '24 hours'
            AND EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id)
      ) < LEAST(coalesce(%(cap_24h)s::int, 2147483647),
                -- The lowest legal cap of any contact of the number, in any campaign.
                coalesce((SELECT min((%(legal_caps)s::jsonb ->> o.jurisdiction)::int)
                          FROM contacts o WHERE o.phone = c.phone), 2147483647)))
      -- A lockout after an outcome binds the number, whichever campaign or contact row was called: the
      -- law's where any contact of the number is placed (its window keys), and this campaign's own,
      -- from when the result was written (number_lockouts). Probed per contact, one index lookup.
      -- Only here, not in the walk: a locked-out number is rare, and dropped here when picked.
      AND (NOT %(lockouts_on)s::boolean OR (
          SELECT 1 FROM number_lockouts l
          WHERE l.phone = c.phone
            AND l.outcome_at > now() - make_interval(hours => %(lockout_horizon_h)s::int)
            AND EXISTS (
                SELECT 1 FROM contacts o, unnest(o.window_keys) AS k
                WHERE o.phone = c.phone
                  AND now() < GREATEST(
                      l.outcome_at + make_interval(hours => coalesce(
                          (%(lockouts)s::jsonb #>> ARRAY[k, l.outcome, 'hours'])::int,
                          (%(lockouts)s::jsonb #>> ARRAY['*', l.outcome, 'hours'])::int, 0)),
                      CASE WHEN coalesce((%(lockouts)s::jsonb #>> ARRAY[k, l.outcome, 'day'])::boolean,
                                         (%(lockouts)s::jsonb #>> ARRAY['*', l.outcome, 'day'])::boolean)
                           THEN (date_trunc('day', l.outcome_at AT TIME ZONE split_part(k, '|', 1)) + interval '1 day')
                                AT TIME ZONE split_part(k, '|', 1) END))
          LIMIT 1) IS NULL)
      -- A result of an earlier, expired attempt that has come but is not ingested yet may be the
      -- contact's conversion or opt-out: the contact waits for it to be applied.
      -- Probed per contact as well, for the same reason: the ledger's expired tasks are many.
      AND (SELECT 1 FROM dial_tasks t JOIN call_records r ON r.dial_attempt_id = t.dial_attempt_id
           WHERE t.contact_id = c.id AND t.status = 'expired' AND r.ingested_at IS NULL
           LIMIT 1) IS NULL
    ORDER BY p.ord
    LIMIT (CASE WHEN %(max_contacts)s::int IS NOT NULL THEN GREATEST(0, %(max_contacts)s::int - (
               SELECT count(*) FROM dial_tasks r WHERE r.campaign_id = %(campaign_id)s AND r.run_id = %(run_id)s))
           END)
    FOR UPDATE OF c SKIP LOCKED
), claimed AS (
    UPDATE contacts c
    SET status = 'in_flight', attempts = c.attempts + 1, dispatches = c.dispatches + 1,
        last_attempt_at = now(), next_attempt_at = NULL
    -- By primary key, as picked: a join here could read the whole table.
    WHERE c.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING c.id, c.campaign_id, c.phone, c.attempts, c.dispatches, c.window_keys
), tasks AS (
    INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, not_after)
    SELECT 'c' || cl.campaign_id || '-' || cl.id || '-' || cl.dispatches,
           cl.campaign_id, cl.id, cl.phone, cl.attempts, %(run_id)s,
           LEAST(%(run_end)s::timestamptz,
                 (SELECT min((%(closes_at)s::jsonb ->> k)::timestamptz) FROM unnest(cl.window_keys) AS k))
    FROM claimed cl
    RETURNING dial_attempt_id, contact_id, phone, attempt, not_after
)
-- In no particular order: dispatch puts them back in the order picked, so the queue receives the
-- best contacts first. (Joined back to the picked order here, a plan misled by statistics
-- compared every task with every claimed contact.)
SELECT t.dial_attempt_id, t.contact_id, t.phone, t.attempt, t.not_after
FROM tasks t
