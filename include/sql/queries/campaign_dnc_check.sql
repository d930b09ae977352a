-- When the campaign's list was last scrubbed against the national do-not-call registry, and
-- whether any contact it may still dial is in the United States (any of its jurisdictions).
SELECT c.dnc_scrubbed_at,
       EXISTS (SELECT 1 FROM contacts k
               WHERE k.campaign_id = c.id AND k.status IN ('pending', 'failed')
                 AND k.jurisdiction ~ '(^|\+)US(-|\+|$)') AS has_us_contacts
FROM campaigns c
WHERE c.id = %(campaign_id)s
