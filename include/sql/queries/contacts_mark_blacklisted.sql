-- Mark the campaign's waiting contacts whose number is on an active blacklist entry (global or
-- this campaign's) added since the last check; the first check covers every entry. The overlap
-- covers entries committed late with an earlier created_at. (Sending never depends on this: the
-- claim statement checks the blacklist itself; this keeps the counts and the run's end honest.)
--
-- The new entries' phones are collected first (blacklist_created_idx) and looked up by number in
-- the campaign's contacts: one index probe per new entry. A join let the planner scan the
-- campaign's million contacts on every poke (benchmarks/README.md).
WITH since AS (
    SELECT coalesce(blacklist_checked_at, '-infinity'::timestamptz) - interval '5 minutes' AS t
    FROM campaigns WHERE id = %(campaign_id)s
), marked AS (
    UPDATE contacts c
    SET status = 'blacklisted', status_reason = 'blacklist'
    WHERE c.campaign_id = %(campaign_id)s
      AND c.status IN ('pending', 'failed')
      AND c.phone = ANY(ARRAY(
          SELECT b.phone FROM blacklist b, since
          WHERE b.created_at > since.t
            AND (b.campaign_id IS NULL OR b.campaign_id = %(campaign_id)s)
            AND (b.expires_at IS NULL OR b.expires_at > now())))
    RETURNING c.id
), stamped AS (
    UPDATE campaigns SET blacklist_checked_at = now() WHERE id = %(campaign_id)s
)
SELECT count(*) AS marked FROM marked
