SELECT status, count(*) AS n FROM contacts WHERE campaign_id = %(campaign_id)s GROUP BY status
