-- Merge the staged numbers into the blacklist, one row per number and scope. A column left NULL
-- in the stage takes the parameter's value. A number already listed keeps its entry, but the
-- entry lasts as long as the longer of the two (no expiry beats any), and an entry that had
-- ended counts as new from now, so the blacklist watermark picks it up again. The stage is
-- emptied, so that one transaction may stage and merge again.
WITH staged AS (
    SELECT DISTINCT ON (phone, coalesce(campaign_id, 0)) phone, campaign_id, reason, expires_at
    FROM (SELECT i.phone, coalesce(i.campaign_id, %(campaign_id)s::bigint) AS campaign_id,
                 coalesce(i.reason, %(reason)s::text, 'do_not_call') AS reason,
                 coalesce(i.expires_at, %(expires_at)s::timestamptz) AS expires_at
          FROM blacklist_incoming i) s
    ORDER BY phone, coalesce(campaign_id, 0), expires_at DESC NULLS FIRST
), merged AS (
    INSERT INTO blacklist AS b (phone, campaign_id, reason, expires_at)
    SELECT phone, campaign_id, reason, expires_at FROM staged
    ON CONFLICT (phone, coalesce(campaign_id, 0)) DO UPDATE
        SET expires_at = CASE WHEN EXCLUDED.expires_at IS NULL THEN NULL
                              ELSE GREATEST(b.expires_at, EXCLUDED.expires_at) END,
            created_at = CASE WHEN b.expires_at <= now() THEN now() ELSE b.created_at END
        WHERE b.expires_at IS NOT NULL AND (EXCLUDED.expires_at IS NULL OR EXCLUDED.expires_at > b.expires_at)
    RETURNING (xmax = 0) AS inserted
), emptied AS (
    DELETE FROM blacklist_incoming
)
SELECT (SELECT count(*) FROM staged) AS staged,
       count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS extended
FROM merged
