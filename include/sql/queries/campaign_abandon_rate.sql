-- A campaign's abandoned calls and live answers (a person picked up: answered, converted,
-- opted out, or abandoned) started since a moment: the rolling window of its abandonment rate.
SELECT count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE outcome IN ('answered', 'converted', 'opted_out', 'abandoned')) AS live
FROM call_records
WHERE campaign_id = %(campaign_id)s AND started_at >= %(since)s
