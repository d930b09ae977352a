-- The hopper level: dial tasks claimed or sent and not yet answered by a call record; and, only
-- when the run has a contact limit, the dial tasks this run has claimed (a run can have hundreds
-- of thousands, and most runs have no limit).
--
-- Every contact in flight has its latest dial task open (the claim writes both in one statement,
-- and whatever closes that task moves the contact), so the contacts in flight, kept by the
-- statements that move them (contact_status_deltas), are a floor under the open tasks. When that
-- floor alone fills the hopper, it is returned and the tasks are not counted: there is no room
-- either way. Counting a full hopper of fresh tasks reads every one of them.
WITH floor AS (
    SELECT coalesce(sum(d.n), 0)::bigint AS in_flight, c.max_in_flight
    FROM campaigns c
    LEFT JOIN contact_status_deltas d ON d.campaign_id = c.id AND d.status = 'in_flight'
    WHERE c.id = %(campaign_id)s
    GROUP BY c.max_in_flight
)
SELECT CASE WHEN floor.in_flight >= floor.max_in_flight THEN floor.in_flight
            ELSE (SELECT count(*) FROM dial_tasks
                  WHERE campaign_id = %(campaign_id)s AND status IN ('claimed', 'sent')) END AS in_flight,
       CASE WHEN %(count_run)s::boolean THEN
           (SELECT count(*) FROM dial_tasks WHERE campaign_id = %(campaign_id)s AND run_id = %(run_id)s)
       END AS sent_this_run
FROM floor
