-- Fold the campaign's count rows into one per status, unless another session is folding them
-- (the key is never waited for; writers never take it). Rows a writer has not committed yet are
-- not seen, so they are neither deleted nor counted here, and count once they commit.
WITH folding AS (
    SELECT pg_try_advisory_xact_lock(7100222, (%(campaign_id)s::bigint %% 2147483647)::int) AS locked
), folded AS (
    DELETE FROM contact_status_deltas
    WHERE campaign_id = %(campaign_id)s AND (SELECT locked FROM folding)
    RETURNING status, n
)
INSERT INTO contact_status_deltas (campaign_id, status, n)
SELECT %(campaign_id)s, status, sum(n) FROM folded GROUP BY status HAVING sum(n) <> 0
