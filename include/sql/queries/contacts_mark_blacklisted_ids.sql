-- Newly resolved contacts checked against every active entry, however old.
UPDATE contacts c
SET status = 'blacklisted', status_reason = 'blacklist'
WHERE c.id = ANY(%(ids)s::bigint[])
  AND c.status IN ('pending', 'failed')
  AND EXISTS (
      SELECT 1 FROM blacklist b
      WHERE b.phone = c.phone
        AND (b.campaign_id IS NULL OR b.campaign_id = c.campaign_id)
        AND (b.expires_at IS NULL OR b.expires_at > now()))
