SELECT count(*) FILTER (WHERE status IN ('pending', 'failed', 'in_flight')) AS dispatchable,
       count(*) AS total
FROM contacts WHERE campaign_id = %(campaign_id)s
