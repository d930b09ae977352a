-- Call outcomes in the report's scope (see report_funnel.sql).
SELECT r.outcome, count(*) AS calls, coalesce(sum(r.duration_s), 0)::bigint AS talk_s
FROM call_records r
JOIN dial_tasks t ON t.dial_attempt_id = r.dial_attempt_id
WHERE t.campaign_id = %(campaign_id)s
  AND (t.run_id = %(run_id)s OR (%(by_interval)s AND t.claimed_at >= %(start)s AND t.claimed_at < %(end)s))
GROUP BY r.outcome
