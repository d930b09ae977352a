-- This run's dial tasks, by how they ended.
SELECT coalesce(t.outcome, t.status) AS result, count(*) AS n
FROM dial_tasks t
WHERE t.campaign_id = %(campaign_id)s AND t.run_id = %(run_id)s
GROUP BY 1
