-- The Campaigns page: every campaign with its contact total, latest progress snapshot and latest report.
-- Each LATERAL is an index probe per campaign (contacts_campaign_status_idx,
-- campaign_progress_latest_idx, the reports' primary key), so the page stays cheap as history grows.
-- "Latest report" is the most recently created run's report: rerunning an old run rewrites that
-- run's report (updated_at) but does not make it the campaign's newest outcome.
-- A date Python cannot hold ('infinity', a year past 9999: rows older than the constraints that now
-- refuse them) reads as NULL, so one such row shows as "—" instead of failing the page.
SELECT c.id, c.slug, c.name, c.status, c.schedule, c.timezone,
       CASE WHEN c.start_at >= '0001-01-02' AND c.start_at < '9999-12-31' THEN c.start_at END AS start_at,
       CASE WHEN c.end_at >= '0001-01-02' AND c.end_at < '9999-12-31' THEN c.end_at END AS end_at,
       n.contacts_total,
       p.run_id AS progress_run_id, p.polled_at AS progress_polled_at, p.counts AS progress_counts,
       r.run_id AS report_run_id, r.outcome AS report_outcome, r.created_at AS report_created_at,
       r.s3_uri AS report_s3_uri,
       c.catalog_error, c.catalog_error_at
FROM campaigns c
CROSS JOIN LATERAL (
    SELECT count(*) AS contacts_total FROM contacts WHERE campaign_id = c.id
) n
LEFT JOIN LATERAL (
    SELECT run_id, polled_at, counts FROM campaign_progress
    WHERE campaign_id = c.id
    ORDER BY polled_at DESC, id DESC
    LIMIT 1
) p ON true
LEFT JOIN LATERAL (
    SELECT run_id, outcome, created_at, s3_uri FROM campaign_reports
    WHERE campaign_id = c.id
    ORDER BY created_at DESC, run_id DESC
    LIMIT 1
) r ON true
WHERE c.status <> 'archived' OR %(include_archived)s::boolean
ORDER BY c.slug
