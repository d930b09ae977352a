-- The dial tasks one run has claimed, and those of them still open (claimed or sent, no result
-- yet and not expired): a limited run is over once it sent its limit and none is open.
SELECT count(*) AS sent,
       count(*) FILTER (WHERE status IN ('claimed', 'sent')) AS open
FROM dial_tasks
WHERE campaign_id = %(campaign_id)s AND run_id = %(run_id)s
