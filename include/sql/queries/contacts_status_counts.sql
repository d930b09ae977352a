-- The campaign's contacts by status, as the statements that moved them recorded it (migration
-- 0018): exact in the reader's snapshot, without reading a contact. Also how many rows were summed,
-- so the caller knows when to fold them.
SELECT status, sum(n)::bigint AS n, sum(count(*)) OVER ()::bigint AS summed
FROM contact_status_deltas
WHERE campaign_id = %(campaign_id)s
GROUP BY status
