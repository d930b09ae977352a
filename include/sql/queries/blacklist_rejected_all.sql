-- The blacklist rows set aside because they were not written in E.164 (migration 0008).
SELECT id, phone, campaign_id, reason, expires_at FROM blacklist_rejected ORDER BY id
