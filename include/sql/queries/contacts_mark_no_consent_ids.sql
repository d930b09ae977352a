-- Of a campaign that requires consent, the given contacts that carry none are kept from dialing
-- the way blacklisted ones are, with their own reason (no_consent).
UPDATE contacts c
SET status = 'blacklisted', status_reason = 'no_consent'
WHERE c.id = ANY(%(ids)s::bigint[])
  AND c.status IN ('pending', 'failed')
  AND c.consent_at IS NULL
