-- Answer rate by the called party's local hour, in the report's scope.
SELECT coalesce(r.local_hour, extract(hour FROM r.started_at AT TIME ZONE coalesce(c.timezones[1], 'UTC')))::int AS hour,
       count(*) AS dialed,
       count(*) FILTER (WHERE r.outcome IN ('answered', 'converted', 'opted_out')) AS answered
FROM call_records r
JOIN dial_tasks t ON t.dial_attempt_id = r.dial_attempt_id
JOIN contacts c ON c.id = r.contact_id
WHERE t.campaign_id = %(campaign_id)s
  AND (t.run_id = %(run_id)s OR (%(by_interval)s AND t.claimed_at >= %(start)s AND t.claimed_at < %(end)s))
GROUP BY 1
