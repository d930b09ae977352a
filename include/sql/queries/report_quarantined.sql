-- Call records of this run kept out of every figure (call_records_quarantine), by reason: those
-- naming one of the run's dial tasks, and those carrying the campaign's id but naming no dial task,
-- quarantined while the run lasted.
SELECT q.reason, count(*) AS n
FROM call_records_quarantine q
WHERE (q.task_campaign_id = %(campaign_id)s AND q.task_run_id = %(run_id)s)
   OR (q.task_campaign_id IS NULL AND q.campaign_id = %(campaign_id)s
       AND q.quarantined_at >= %(start)s AND q.quarantined_at < %(end)s)
GROUP BY q.reason
ORDER BY q.reason
