-- Each of a campaign's contacts that could be dialed at an instant, or the first reason it
-- cannot, by jurisdiction: the explained skips of a dry run and of the Campaigns page's preview.
-- Contacts already finished (completed, opted out, exhausted) or on a call (in_flight) are not
-- counted; one whose run ended before it was reached counts as 'expired'. The reasons per window key (closed hours, a blackout) are computed by the caller.
-- Like report_blocked, the contacts fall into a few groups, read once each.
--
-- The cap and the lockout are the claim's own checks (dial_tasks_claim.sql), written again for an
-- instant that need not be now; tests/integration/test_outcome_lockouts.py holds the two together.
-- A number's calls in 24 h count an expired attempt whose result has come; its legal cap is the
-- lowest of any contact of the number, in any campaign; a lockout after an outcome binds the number.
WITH recent AS (
    SELECT t.phone, count(*) AS n
    FROM dial_tasks t
    WHERE t.claimed_at > %(at)s - interval '24 hours'
      AND (t.status <> 'expired' OR EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id))
      AND (%(cap_24h)s::int IS NOT NULL OR %(legal_caps)s::jsonb <> '{}'::jsonb)
    GROUP BY t.phone
), capped AS (
    -- Only a number called in the last 24 h can be at its cap: its cap is looked up once per number.
    SELECT r.phone
    FROM recent r
    WHERE r.n >= LEAST(coalesce(%(cap_24h)s::int, 2147483647),
                       coalesce((SELECT min((%(legal_caps)s::jsonb ->> o.jurisdiction)::int)
                                 FROM contacts o WHERE o.phone = r.phone), 2147483647))
), locked AS (
    -- The numbers locked out at the instant: few, so found from the lockouts, not per contact.
    SELECT DISTINCT l.phone
    FROM number_lockouts l
    WHERE %(lockouts_on)s::boolean
      AND l.outcome_at > %(at)s - make_interval(hours => %(lockout_horizon_h)s::int)
      AND EXISTS (
          SELECT 1 FROM contacts o, unnest(o.window_keys) AS k
          WHERE o.phone = l.phone
            AND %(at)s < GREATEST(
                l.outcome_at + make_interval(hours => coalesce(
                    (%(lockouts)s::jsonb #>> ARRAY[k, l.outcome, 'hours'])::int,
                    (%(lockouts)s::jsonb #>> ARRAY['*', l.outcome, 'hours'])::int, 0)),
                CASE WHEN coalesce((%(lockouts)s::jsonb #>> ARRAY[k, l.outcome, 'day'])::boolean,
                                   (%(lockouts)s::jsonb #>> ARRAY['*', l.outcome, 'day'])::boolean)
                     THEN (date_trunc('day', l.outcome_at AT TIME ZONE split_part(k, '|', 1))
                           + interval '1 day') AT TIME ZONE split_part(k, '|', 1) END))
), flagged AS (
    -- The few numbers at their cap or locked out, joined to the contacts in one pass.
    SELECT x.phone, bool_or(x.capped) AS capped, bool_or(NOT x.capped) AS locked
    FROM (SELECT phone, true AS capped FROM capped UNION ALL SELECT phone, false FROM locked) x
    GROUP BY x.phone
), grouped AS (
    -- Every key but the status, window keys and jurisdiction is a yes/no, so that the planner knows
    -- the contacts fall into a few groups and hashes them in memory: grouped by the raw retry time or
    -- 24 h count, a million contacts were estimated as a million groups, sorted, and spilled to disk.
    SELECT c.status, c.status_reason IS NOT DISTINCT FROM 'no_consent' AS no_consent, c.window_keys,
           coalesce(c.jurisdiction, 'unknown') AS jurisdiction,
           coalesce(f.capped, false) AS capped,
           coalesce(f.locked, false) AND c.status IN ('pending', 'failed') AS locked_out,
           coalesce(c.next_attempt_at > %(at)s, false) AS waiting,
           coalesce(c.next_attempt_at > %(at)s AND c.last_outcome IN ('abandoned', 'machine'), false) AS after_lockout,
           count(*) AS contacts
    FROM contacts c
    LEFT JOIN flagged f ON f.phone = c.phone
    WHERE c.campaign_id = %(campaign_id)s AND c.status IN ('pending', 'failed', 'blacklisted', 'invalid', 'expired')
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
)
SELECT CASE
           WHEN g.status = 'blacklisted' AND g.no_consent THEN 'no_consent'
           WHEN g.status = 'blacklisted' THEN 'blacklist'
           WHEN g.status = 'invalid' THEN 'invalid_number'
           WHEN g.status = 'expired' THEN 'expired'
           WHEN g.window_keys IS NULL THEN 'unresolved'
           WHEN (SELECT min(%(reasons)s::jsonb ->> k) FROM unnest(g.window_keys) AS k) IS NOT NULL
               THEN (SELECT min(%(reasons)s::jsonb ->> k) FROM unnest(g.window_keys) AS k)
           WHEN g.capped THEN 'cap'
           WHEN g.locked_out THEN 'lockout'
           WHEN g.after_lockout THEN 'lockout'
           WHEN g.waiting THEN 'retry_later'
       END AS reason,
       g.jurisdiction, sum(g.contacts)::bigint AS contacts
FROM grouped g
GROUP BY 1, 2
ORDER BY 1 NULLS FIRST, 2
