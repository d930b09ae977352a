-- A campaign's abandoned calls and live answers (a person picked up: answered, converted,
-- opted out, or abandoned) started since a moment: the rolling window of its abandonment rate.
--
-- Exact, and read in one snapshot: the whole hours of the window are summed from the counts the
-- statements that write call records keep (call_record_live_hours, migration 0019); only the part
-- of an hour the window starts in is counted from the records (call_records_campaign_started_idx).
-- The first whole hour is written out in each condition, not taken from a CTE, so that the
-- planner sees the range and reads it by its index. Also how many count rows were summed and how
-- many hours they cover, so the caller knows when to fold them.
SELECT (kept.abandoned + part.abandoned)::bigint AS abandoned, (kept.live + part.live)::bigint AS live,
       kept.summed, kept.hours
FROM (
    SELECT coalesce(sum(h.abandoned), 0) AS abandoned, coalesce(sum(h.live), 0) AS live,
           count(*) AS summed, count(DISTINCT h.hour) AS hours
    FROM call_record_live_hours h
    WHERE h.campaign_id = %(campaign_id)s
      AND h.hour >= date_trunc('hour', %(since)s::timestamptz - interval '1 microsecond', 'UTC') + interval '1 hour'
) kept, (
    SELECT count(*) FILTER (WHERE r.outcome = 'abandoned') AS abandoned,
           count(*) FILTER (WHERE r.outcome IN ('answered', 'converted', 'opted_out', 'abandoned')) AS live
    FROM call_records r
    WHERE r.campaign_id = %(campaign_id)s AND r.started_at >= %(since)s::timestamptz
      AND r.started_at < date_trunc('hour', %(since)s::timestamptz - interval '1 microsecond', 'UTC') + interval '1 hour'
) part
