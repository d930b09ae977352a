-- The campaign's contacts by status, counted; stored for the next pokes when asked (the
-- caller holds contacts_status_counts_lock). One statement, so the count and the change id it
-- records come from the same snapshot.
WITH counted AS (
    SELECT status, count(*) AS n FROM contacts WHERE campaign_id = %(campaign_id)s GROUP BY status
), seen AS (
    SELECT coalesce(max(id), 0) AS id FROM contact_changes WHERE campaign_id = %(campaign_id)s
), stored AS (
    INSERT INTO contact_status_counts AS s (campaign_id, counts, seen_change_id, counted_at)
    SELECT %(campaign_id)s, coalesce((SELECT jsonb_object_agg(status, n) FROM counted), '{}'::jsonb), seen.id, now()
    FROM seen
    WHERE %(store)s
    ON CONFLICT (campaign_id) DO UPDATE
    SET counts = excluded.counts, seen_change_id = excluded.seen_change_id, counted_at = excluded.counted_at
), pruned AS (
    DELETE FROM contact_changes
    WHERE %(store)s AND campaign_id = %(campaign_id)s AND id <= (SELECT id FROM seen)
)
SELECT status, n FROM counted
