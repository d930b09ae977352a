-- Whether contacts_mark_blacklisted.sql has anything to do for the campaign: a blacklist entry
-- added by a transaction its last check did not see, or no check since migration 0019. One probe
-- of blacklist_created_xid_idx: the marking statement, which writes, runs only then, given the
-- snapshot's xmin (every transaction it did not see has an id at least that). Asked as the least
-- new id rather than EXISTS: the planner cannot know how many entries lie past a snapshot, and
-- for EXISTS it would scan the table hoping to meet one soon.
SELECT c.blacklist_snapshot IS NULL OR d.least_new IS NOT NULL AS due,
       pg_snapshot_xmin(c.blacklist_snapshot)::text AS from_xid
FROM campaigns c
LEFT JOIN LATERAL (
    SELECT min(b.created_xid) AS least_new FROM blacklist b
    WHERE b.created_xid >= pg_snapshot_xmin(c.blacklist_snapshot)
      AND NOT pg_visible_in_snapshot(b.created_xid, c.blacklist_snapshot)
) d ON true
WHERE c.id = %(campaign_id)s
