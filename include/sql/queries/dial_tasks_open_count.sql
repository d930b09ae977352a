-- The hopper level: dial tasks claimed or sent and not yet answered by a call record.
SELECT count(*) FILTER (WHERE status IN ('claimed', 'sent')) AS in_flight,
       count(*) FILTER (WHERE run_id = %(run_id)s) AS sent_this_run
FROM dial_tasks
WHERE campaign_id = %(campaign_id)s
  AND (status IN ('claimed', 'sent') OR run_id = %(run_id)s)
