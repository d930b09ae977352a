-- The run's funnel and call figures. Scope: this run's dial tasks, or, for a run that only
-- re-reports a past interval, the dial tasks claimed inside that interval.
WITH scope AS (
    SELECT t.dial_attempt_id, t.contact_id, t.sent_at
    FROM dial_tasks t
    WHERE t.campaign_id = %(campaign_id)s
      AND (t.run_id = %(run_id)s
           OR (%(by_interval)s AND t.claimed_at >= %(start)s AND t.claimed_at < %(end)s))
), calls AS (
    SELECT r.outcome, r.duration_s FROM call_records r JOIN scope s USING (dial_attempt_id)
)
SELECT
    (SELECT count(*) FROM contacts WHERE campaign_id = %(campaign_id)s) AS contacts,
    (SELECT count(*) FROM contacts WHERE campaign_id = %(campaign_id)s
        AND status NOT IN ('invalid', 'blacklisted')) AS eligible,
    (SELECT count(*) FROM scope WHERE sent_at IS NOT NULL) AS dispatched,
    (SELECT count(*) FROM calls) AS dialed,
    (SELECT count(*) FROM calls WHERE outcome IN ('answered', 'converted', 'opted_out')) AS answered,
    (SELECT count(*) FROM calls WHERE outcome = 'converted') AS converted,
    (SELECT count(*) FROM calls WHERE outcome = 'opted_out') AS opt_outs,
    (SELECT avg(duration_s)::float8 FROM calls WHERE outcome IN ('answered', 'converted', 'opted_out')) AS acd_s
