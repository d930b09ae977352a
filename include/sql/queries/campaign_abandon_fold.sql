-- Fold the campaign's abandonment count rows from a moment on into one per hour, unless another
-- session is folding them (the key is never waited for; writers never take it). Rows a writer has
-- not committed yet are not seen, so they are neither deleted nor counted here, and count once
-- they commit. Older rows are left as they are: no window reads them.
WITH folding AS (
    SELECT pg_try_advisory_xact_lock(7100223, (%(campaign_id)s::bigint %% 2147483647)::int) AS locked
), folded AS (
    DELETE FROM call_record_live_hours
    WHERE campaign_id = %(campaign_id)s AND hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
      AND (SELECT locked FROM folding)
    RETURNING hour, abandoned, live
)
INSERT INTO call_record_live_hours (campaign_id, hour, abandoned, live)
SELECT %(campaign_id)s, hour, sum(abandoned), sum(live) FROM folded GROUP BY hour
HAVING sum(abandoned) <> 0 OR sum(live) <> 0
