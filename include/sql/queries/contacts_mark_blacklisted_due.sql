-- Whether contacts_mark_blacklisted.sql has anything to do for the campaign: a blacklist entry
-- added by a transaction its last check did not see, or no check since migration 0021. One probe
-- of blacklist_created_xid_idx: the marking statement, which writes, runs only then.
SELECT c.blacklist_snapshot IS NULL
       OR EXISTS (SELECT 1 FROM blacklist b
                  WHERE b.created_xid >= pg_snapshot_xmin(c.blacklist_snapshot)
                    AND NOT pg_visible_in_snapshot(b.created_xid, c.blacklist_snapshot)) AS due
FROM campaigns c
WHERE c.id = %(campaign_id)s
