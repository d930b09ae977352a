SELECT EXISTS (SELECT 1 FROM call_records WHERE campaign_id = %(campaign_id)s AND ingested_at IS NULL) AS waiting
