-- The campaign's stored contact counts while they are exact: no statement has changed one of its
-- contacts since they were counted (migration 0007). No row: count again.
SELECT s.counts
FROM contact_status_counts s
WHERE s.campaign_id = %(campaign_id)s
  AND NOT EXISTS (SELECT 1 FROM contact_changes c
                  WHERE c.campaign_id = s.campaign_id AND c.id > s.seen_change_id)
