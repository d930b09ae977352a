-- Why contacts were not reached. Blacklisted, invalid and expired are contact states; for the
-- contacts still waiting (or expired unreached), the first closed window key says whether the law
-- or the campaign's window kept them, and the 24 h counts say whether a cap did.
WITH waiting AS (
    SELECT c.id, c.phone, c.jurisdiction, c.window_keys
    FROM contacts c
    WHERE c.campaign_id = %(campaign_id)s
      AND (c.status IN ('pending', 'failed') OR (c.status = 'expired' AND c.window_keys IS NOT NULL))
), classified AS (
    SELECT w.id,
           (SELECT min(%(reasons)s::jsonb ->> k) FROM unnest(w.window_keys) AS k) AS window_reason,
           (SELECT count(*) FROM dial_tasks t
            WHERE t.phone = w.phone AND t.status <> 'expired' AND t.claimed_at > %(at)s - interval '24 hours')
             >= LEAST(coalesce(%(cap_24h)s::int, 2147483647),
                      coalesce((%(legal_caps)s::jsonb ->> w.jurisdiction)::int, 2147483647)) AS capped
    FROM waiting w
)
SELECT
    (SELECT count(*) FROM contacts WHERE campaign_id = %(campaign_id)s AND status = 'blacklisted') AS blacklist,
    (SELECT count(*) FROM contacts WHERE campaign_id = %(campaign_id)s AND status = 'invalid') AS invalid_number,
    (SELECT count(*) FROM contacts WHERE campaign_id = %(campaign_id)s AND status = 'expired') AS expired,
    (SELECT count(*) FROM classified WHERE window_reason = 'outside_window') AS outside_window,
    (SELECT count(*) FROM classified WHERE window_reason = 'legal_hours') AS legal_hours,
    (SELECT count(*) FROM classified WHERE capped) AS cap
