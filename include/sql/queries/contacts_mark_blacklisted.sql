-- Contacts whose number is on an active PostgreSQL blacklist entry (global or this campaign's).
UPDATE contacts c
SET status = 'blacklisted', status_reason = 'blacklist'
WHERE c.campaign_id = %(campaign_id)s
  AND c.status IN ('pending', 'failed')
  AND EXISTS (
      SELECT 1 FROM blacklist b
      WHERE b.phone = c.phone
        AND (b.campaign_id IS NULL OR b.campaign_id = c.campaign_id)
        AND (b.expires_at IS NULL OR b.expires_at > now()))
