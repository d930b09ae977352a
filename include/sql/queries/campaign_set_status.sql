UPDATE campaigns
SET status = %(status)s, updated_at = now()
WHERE id = %(campaign_id)s AND status = ANY(%(from_statuses)s::text[])
