SELECT DISTINCT phone FROM blacklist
WHERE campaign_id IS NULL AND (expires_at IS NULL OR expires_at > now())
