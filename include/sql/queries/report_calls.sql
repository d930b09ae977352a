-- The run's funnel, in contacts, and its call figures, in calls: by outcome, and the answer rate by
-- the called party's local hour. Scope: this run's dial tasks, or, for a run that only re-reports
-- a past interval, the dial tasks claimed inside that interval. The calls in scope are joined to
-- their dial tasks once, and every figure is read from that one pass.
-- The funnel's first steps (contacts, eligible) come from the status counts build_report already
-- has. The dialer reports the local hour; the contact's first zone is looked up only for a record
-- without one, not joined for every call.
WITH scope AS (
    SELECT t.dial_attempt_id, t.contact_id, t.sent_at
    FROM dial_tasks t
    WHERE t.campaign_id = %(campaign_id)s
      AND (t.run_id = %(run_id)s
           OR (%(by_interval)s AND t.claimed_at >= %(start)s AND t.claimed_at < %(end)s))
), calls AS MATERIALIZED (
    SELECT r.contact_id, r.outcome, r.duration_s,
           r.outcome IN ('answered', 'converted', 'opted_out') AS picked_up,
           coalesce(r.local_hour,
                    (SELECT extract(hour FROM r.started_at AT TIME ZONE coalesce(c.timezones[1], 'UTC'))
                     FROM contacts c WHERE c.id = r.contact_id))::int AS hour
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
    (SELECT avg(duration_s)::float8 FROM calls WHERE picked_up) AS acd_s,
    (SELECT coalesce(jsonb_agg(o ORDER BY o.outcome), '[]'::jsonb)
     FROM (SELECT outcome, count(*) AS calls, coalesce(sum(duration_s), 0)::bigint AS talk_s
           FROM calls GROUP BY outcome) o) AS by_outcome,
    (SELECT coalesce(jsonb_agg(h ORDER BY h.hour), '[]'::jsonb)
     FROM (SELECT hour, count(*) AS dialed, count(*) FILTER (WHERE picked_up) AS answered
           FROM calls GROUP BY hour) h) AS by_hour
