SELECT attempts, count(*) AS contacts FROM contacts WHERE campaign_id = %(campaign_id)s GROUP BY attempts
