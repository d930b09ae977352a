-- Each of a campaign's contacts that could be dialed at an instant, or the first reason it
-- cannot, by jurisdiction: the explained skips of a dry run and of the Campaigns page's preview.
-- Contacts already finished (completed, opted out, exhausted) or on a call (in_flight) are not
-- counted; one whose run ended before it was reached counts as 'expired'. The reasons per window key (closed hours, a blackout) are computed by the caller.
-- Like report_blocked, the contacts fall into a few groups, read once each.
WITH recent AS (
    SELECT t.phone, count(*) AS n
    FROM dial_tasks t
    WHERE t.status <> 'expired' AND t.claimed_at > %(at)s - interval '24 hours'
      AND (%(cap_24h)s::int IS NOT NULL OR %(legal_caps)s::jsonb <> '{}'::jsonb)
    GROUP BY t.phone
), grouped AS (
    SELECT c.status, c.status_reason IS NOT DISTINCT FROM 'no_consent' AS no_consent, c.window_keys,
           coalesce(c.jurisdiction, 'unknown') AS jurisdiction, coalesce(r.n, 0) AS recent,
           CASE WHEN c.next_attempt_at > %(at)s THEN
                CASE WHEN c.last_outcome IN ('abandoned', 'machine') THEN 'lockout' ELSE 'retry_later' END
           END AS waiting_for, count(*) AS contacts
    FROM contacts c
    LEFT JOIN recent r ON r.phone = c.phone
    WHERE c.campaign_id = %(campaign_id)s AND c.status IN ('pending', 'failed', 'blacklisted', 'invalid', 'expired')
    GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT CASE
           WHEN g.status = 'blacklisted' AND g.no_consent THEN 'no_consent'
           WHEN g.status = 'blacklisted' THEN 'blacklist'
           WHEN g.status = 'invalid' THEN 'invalid_number'
           WHEN g.status = 'expired' THEN 'expired'
           WHEN g.window_keys IS NULL THEN 'unresolved'
           WHEN (SELECT min(%(reasons)s::jsonb ->> k) FROM unnest(g.window_keys) AS k) IS NOT NULL
               THEN (SELECT min(%(reasons)s::jsonb ->> k) FROM unnest(g.window_keys) AS k)
           WHEN g.recent >= LEAST(coalesce(%(cap_24h)s::int, 2147483647),
                                  coalesce((%(legal_caps)s::jsonb ->> g.jurisdiction)::int, 2147483647)) THEN 'cap'
           WHEN g.waiting_for IS NOT NULL THEN g.waiting_for
       END AS reason,
       g.jurisdiction, sum(g.contacts)::bigint AS contacts
FROM grouped g
GROUP BY 1, 2
ORDER BY 1 NULLS FIRST, 2
