-- The first caller for a (run, clear) records its decision; every caller gets the recorded one.
WITH decided AS (
    INSERT INTO campaign_runs (campaign_id, run_id, clear_number, live, not_live_reason, run_end)
    VALUES (%(campaign_id)s, %(run_id)s, %(clear_number)s, %(live)s, %(reason)s, %(run_end)s)
    ON CONFLICT (campaign_id, run_id, clear_number) DO NOTHING
    RETURNING live, not_live_reason, run_end, decided_at
)
SELECT live, not_live_reason, run_end, decided_at FROM decided
UNION ALL
SELECT live, not_live_reason, run_end, decided_at FROM campaign_runs
WHERE campaign_id = %(campaign_id)s AND run_id = %(run_id)s AND clear_number = %(clear_number)s
LIMIT 1
