-- Taken in a claim's transaction, before the claim statement (whose snapshot is then taken after
-- every lock is held, so its counts see what the lock's last holder committed):
--  * one lock per phone a rolling 24 h cap can bind, so that two claims of one number (other
--    campaigns, other shards, other dispatchers) count one after the other, never both 0. Claims
--    of different numbers take different locks and never wait for each other. A number needs one
--    when the claiming campaign has its own 24 h cap, when any campaign that may be dialing has
--    one (it counts this claim's tasks too), or when a contact of it, in any campaign, is placed
--    in a jurisdiction with a legal cap;
--  * one lock on the run, when the run has a contact limit: the shards of a run take the limit's
--    room one after the other.
-- Transaction-level advisory locks, all taken in one sorted order, so no two claims deadlock; a
-- claim waits only while another claim of one of its numbers commits.
SELECT count(*) AS locks
FROM (
    SELECT pg_advisory_xact_lock(k.key)
    FROM (
        SELECT hashtextextended('phone:' || c.phone, 0) AS key
        FROM contacts c
        WHERE c.id = ANY(%(ids)s::bigint[])
          AND (%(own_cap)s::boolean
               OR EXISTS (SELECT 1 FROM contacts o
                          WHERE o.phone = c.phone AND o.jurisdiction = ANY(%(capped_jurisdictions)s::text[]))
               OR EXISTS (SELECT 1 FROM campaigns k
                          WHERE k.status IN ('scheduled', 'active', 'paused')
                            AND jsonb_typeof(k.config -> 'max_attempts_per_24h') = 'number'))
        UNION
        SELECT hashtextextended('run:' || %(campaign_id)s::text || ':' || %(run_id)s, 0)
        WHERE %(max_contacts)s::int IS NOT NULL
        ORDER BY 1
    ) k
) locked
