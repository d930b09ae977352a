-- Which of a batch's numbers a blacklist entry blocks at this moment (global or this campaign's,
-- unexpired): the send-time check, for fresh claims and resends alike, one statement a chunk.
-- A row migration 0008 could not read as a number (blacklist_rejected) still blocks, on the safe
-- side, every number whose digits end with its own (7 digits at least: fewer name no number).
SELECT p.phone, CASE WHEN listed.hit THEN 'blacklist' ELSE 'blacklist_unparsed' END AS reason
FROM unnest(%(phones)s::text[]) AS p(phone)
LEFT JOIN LATERAL (
    SELECT true AS hit FROM blacklist b
    WHERE b.phone = p.phone
      AND (b.campaign_id IS NULL OR b.campaign_id = %(campaign_id)s)
      AND (b.expires_at IS NULL OR b.expires_at > now())
    LIMIT 1
) listed ON true
WHERE listed.hit
   OR EXISTS (
       SELECT 1 FROM blacklist_rejected r
       WHERE length(r.digits) >= 7
         AND (r.campaign_id IS NULL OR r.campaign_id = %(campaign_id)s)
         AND (r.expires_at IS NULL OR r.expires_at > now())
         AND right(p.phone, length(r.digits)) = r.digits)
