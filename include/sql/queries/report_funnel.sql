-- The run's funnel, in contacts, and its call figures, in calls. Scope: this run's dial tasks, or,
-- for a run that only re-reports a past interval, the dial tasks claimed inside that interval.
-- The funnel's first steps (contacts, eligible) come from the status counts build_report already
-- has: counting a million contacts twice more here was most of this statement's time.
WITH scope AS (
    SELECT t.dial_attempt_id, t.contact_id, t.sent_at
    FROM dial_tasks t
    WHERE t.campaign_id = %(campaign_id)s
      AND (t.run_id = %(run_id)s
           OR (%(by_interval)s AND t.claimed_at >= %(start)s AND t.claimed_at < %(end)s))
), calls AS (
    SELECT r.contact_id, r.outcome, r.duration_s,
           r.outcome IN ('answered', 'converted', 'opted_out') AS picked_up
    FROM call_records r JOIN scope s USING (dial_attempt_id)
)
SELECT
    (SELECT count(DISTINCT contact_id) FROM scope WHERE sent_at IS NOT NULL) AS dispatched,
    (SELECT count(DISTINCT contact_id) FROM calls) AS dialed,
    (SELECT count(DISTINCT contact_id) FROM calls WHERE picked_up) AS answered,
    (SELECT count(DISTINCT contact_id) FROM calls WHERE outcome = 'converted') AS converted,
    (SELECT count(*) FROM scope WHERE sent_at IS NOT NULL) AS dial_tasks,
    (SELECT count(*) FROM calls) AS calls,
    (SELECT count(*) FROM calls WHERE picked_up) AS calls_answered,
    (SELECT count(*) FROM calls WHERE outcome = 'converted') AS calls_converted,
    (SELECT count(*) FROM calls WHERE outcome = 'opted_out') AS opt_outs,
    (SELECT avg(duration_s)::float8 FROM calls WHERE picked_up) AS acd_s
