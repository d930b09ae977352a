-- Contacts waiting for a retry that comes due before the given instant.
SELECT count(*) AS n FROM contacts
WHERE campaign_id = %(campaign_id)s AND status = 'failed' AND next_attempt_at < %(before)s
