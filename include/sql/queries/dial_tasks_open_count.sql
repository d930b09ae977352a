-- The hopper level: dial tasks claimed or sent and not yet answered by a call record; and, only
-- when the run has a contact limit, the dial tasks this run has claimed (a run can have hundreds
-- of thousands, and most runs have no limit).
SELECT (SELECT count(*) FROM dial_tasks
        WHERE campaign_id = %(campaign_id)s AND status IN ('claimed', 'sent')) AS in_flight,
       CASE WHEN %(count_run)s::boolean THEN
           (SELECT count(*) FROM dial_tasks WHERE campaign_id = %(campaign_id)s AND run_id = %(run_id)s)
       END AS sent_this_run
