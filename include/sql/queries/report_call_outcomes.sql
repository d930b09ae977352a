SELECT outcome, count(*) AS n, coalesce(sum(duration_s), 0) AS talk_s
FROM call_records
WHERE campaign_id = %(campaign_id)s
GROUP BY outcome
