INSERT INTO campaign_progress (campaign_id, run_id, counts, dispatched, ingested)
VALUES (%(campaign_id)s, %(run_id)s, %(counts)s::jsonb, %(dispatched)s, %(ingested)s)
