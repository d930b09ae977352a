-- One report per run: a rerun of generate_report replaces it.
INSERT INTO campaign_reports (campaign_id, run_id, outcome, report, s3_uri)
VALUES (%(campaign_id)s, %(run_id)s, %(outcome)s, %(report)s::jsonb, %(s3_uri)s)
ON CONFLICT (campaign_id, run_id) DO UPDATE
SET outcome = EXCLUDED.outcome, report = EXCLUDED.report, s3_uri = EXCLUDED.s3_uri, updated_at = now()
