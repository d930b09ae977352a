-- Answer rate by the called party's local hour, in the report's scope. The dialer reports the local
-- hour; the contact's first zone is looked up only for a record without one, not joined for every call.
SELECT coalesce(r.local_hour,
                (SELECT extract(hour FROM r.started_at AT TIME ZONE coalesce(c.timezones[1], 'UTC'))
                 FROM contacts c WHERE c.id = r.contact_id))::int AS hour,
       count(*) AS dialed,
       count(*) FILTER (WHERE r.outcome IN ('answered', 'converted', 'opted_out')) AS answered
FROM call_records r
JOIN dial_tasks t ON t.dial_attempt_id = r.dial_attempt_id
WHERE t.campaign_id = %(campaign_id)s
  AND (t.run_id = %(run_id)s OR (%(by_interval)s AND t.claimed_at >= %(start)s AND t.claimed_at < %(end)s))
GROUP BY 1
