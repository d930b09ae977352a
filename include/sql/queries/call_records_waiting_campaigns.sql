-- Every campaign id that has call records not yet ingested, whatever its campaign's state (and
-- ids no campaign has): the maintenance pass ingests or quarantines each.
SELECT DISTINCT r.campaign_id, c.id IS NOT NULL AS known
FROM call_records r
LEFT JOIN campaigns c ON c.id = r.campaign_id
WHERE r.ingested_at IS NULL
