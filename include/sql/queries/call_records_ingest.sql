-- Fold the dialer's new call records into contact states, set-based, in one transaction.
-- The dialer only reports; the retry and recycling rules are applied here.
WITH new_records AS (
    UPDATE call_records r
    SET ingested_at = now()
    WHERE r.campaign_id = %(campaign_id)s AND r.ingested_at IS NULL
    RETURNING r.dial_attempt_id, r.contact_id, r.phone, r.outcome
), tasks AS (
    UPDATE dial_tasks t
    SET status = 'completed', completed_at = now(), outcome = n.outcome
    FROM new_records n
    WHERE t.dial_attempt_id = n.dial_attempt_id
    RETURNING t.contact_id, t.attempt, n.outcome, n.phone
), contacts_done AS (
    UPDATE contacts c
    SET last_outcome = t.outcome,
        status = CASE
            WHEN t.outcome = ANY(%(final_outcomes)s::text[]) THEN 'completed'
            WHEN t.outcome = 'opted_out' THEN 'opted_out'
            WHEN c.attempts >= %(max_attempts)s THEN 'exhausted'
            ELSE 'failed' END,
        next_attempt_at = CASE
            WHEN t.outcome = ANY(%(final_outcomes)s::text[]) OR t.outcome = 'opted_out' THEN NULL
            -- The retry waits its delay, then rolls over any closed hours to when every one of the
            -- contact's windows has opened again (precomputed per window key and outcome).
            ELSE GREATEST(
                now() + make_interval(secs => coalesce((%(retry_delays)s::jsonb ->> t.outcome)::int, 3600)),
                (SELECT max((%(reopen_at)s::jsonb ->> (k || '#' || t.outcome))::timestamptz)
                 FROM unnest(c.window_keys) AS k))
            END
    FROM tasks t
    WHERE c.id = t.contact_id AND c.status = 'in_flight' AND c.attempts = t.attempt
    RETURNING c.id
), opt_outs AS (
    INSERT INTO blacklist (phone, campaign_id, reason)
    SELECT DISTINCT n.phone, NULL::bigint, 'opted_out' FROM new_records n WHERE n.outcome = 'opted_out'
    ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM new_records) AS ingested,
       (SELECT count(*) FROM contacts_done) AS contacts_updated,
       coalesce((SELECT array_agg(DISTINCT n.phone) FROM new_records n WHERE n.outcome = 'opted_out'),
                '{}') AS opted_out_phones
