-- Every waiting contact of a campaign that requires consent and carries none: kept from dialing
-- the way blacklisted ones are, with their own reason (no_consent). Run once per run, at
-- validation; new contacts are checked as they are resolved (contacts_mark_no_consent_ids).
WITH marked AS (
    UPDATE contacts c
    SET status = 'blacklisted', status_reason = 'no_consent'
    WHERE c.campaign_id = %(campaign_id)s
      AND c.status IN ('pending', 'failed')
      AND c.consent_at IS NULL
    RETURNING c.id
)
SELECT count(*) AS marked FROM marked
