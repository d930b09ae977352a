-- A chunk of contacts whose phone number has not been checked and placed in time yet.
SELECT id, phone, timezone, region
FROM contacts
WHERE campaign_id = %(campaign_id)s AND window_keys IS NULL AND status = 'pending'
ORDER BY id
LIMIT %(limit)s
