-- Mark the campaign's waiting contacts whose number is on an active blacklist entry (global or
-- this campaign's) that is new since the last check; the first check covers every entry. (Sending
-- never depends on this: the claim statement checks the blacklist itself; this keeps the counts
-- and the run's end honest.)
--
-- New means added, or changed in what it blocks, by a transaction the snapshot of the last check
-- did not see (migration 0019): exact however late that transaction commits, and each entry is
-- looked up once, so a check with nothing new reads one index range and writes nothing. The
-- campaign's first check after the migration goes by created_at with a 5-minute overlap, as
-- checks did before it.
--
-- The from_xid parameter is that snapshot's xmin, as contacts_mark_blacklisted_due.sql read it:
-- the planner sees the value, and finds the few entries past it by their index whatever the
-- table's size. Were the stored snapshot older by now (two checks racing), the check marks what
-- it read and keeps the older snapshot, so the next check covers the rest.
--
-- A contact in flight when its entry arrives is not marked (its result decides first); the check
-- then keeps its snapshot, so that entry is looked up again until the contact is back: its open
-- dial task ends by a result or by expiry, however long the call or however long ago the last
-- check. (A contact in flight with no open dial task, which nothing would bring back, holds it only
-- for 5 minutes after the last check, so that it cannot hold it for ever.)
-- The new entries' phones are collected first and looked up by number in the campaign's contacts:
-- one index probe per new entry (benchmarks/README.md).
WITH seen AS (
    SELECT blacklist_snapshot AS snap,
           coalesce(blacklist_checked_at, '-infinity'::timestamptz) AS checked_at
    FROM campaigns WHERE id = %(campaign_id)s
), added AS MATERIALIZED (
    SELECT b.phone, b.campaign_id, b.expires_at
    FROM seen, blacklist b
    WHERE seen.snap IS NOT NULL
      AND b.created_xid >= %(from_xid)s::xid8
      AND NOT pg_visible_in_snapshot(b.created_xid, seen.snap)
    UNION ALL
    SELECT b.phone, b.campaign_id, b.expires_at
    FROM seen, blacklist b
    WHERE seen.snap IS NULL AND b.created_at > seen.checked_at - interval '5 minutes'
), matched AS MATERIALIZED (
    SELECT c.id, c.status
    FROM contacts c
    WHERE c.campaign_id = %(campaign_id)s
      AND c.status IN ('pending', 'failed', 'in_flight')
      AND c.phone = ANY(ARRAY(
          SELECT a.phone FROM added a
          WHERE (a.campaign_id IS NULL OR a.campaign_id = %(campaign_id)s)
            AND (a.expires_at IS NULL OR a.expires_at > now())))
), marked AS (
    UPDATE contacts c
    SET status = 'blacklisted', status_reason = 'blacklist'
    FROM matched m
    WHERE c.id = m.id AND m.status IN ('pending', 'failed') AND c.status IN ('pending', 'failed')
    RETURNING c.id
), stamped AS (
    UPDATE campaigns
    SET blacklist_checked_at = now(), blacklist_snapshot = pg_current_snapshot()
    FROM seen
    WHERE campaigns.id = %(campaign_id)s
      AND (seen.snap IS NULL OR (EXISTS (SELECT 1 FROM added) AND pg_snapshot_xmin(seen.snap) >= %(from_xid)s::xid8))
      -- Held for a contact matched but not marked: in flight, or claimed meanwhile.
      AND NOT EXISTS (
          SELECT 1 FROM matched m
          WHERE m.id NOT IN (SELECT id FROM marked)
            AND (m.status <> 'in_flight' OR seen.checked_at > now() - interval '5 minutes'
                 OR EXISTS (SELECT 1 FROM dial_tasks t WHERE t.contact_id = m.id AND t.status IN ('claimed', 'sent'))))
)
SELECT (SELECT count(*) FROM marked) AS marked, (SELECT count(*) FROM matched) AS looked_up
