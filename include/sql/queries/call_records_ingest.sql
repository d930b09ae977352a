-- Fold the dialer's new call records into contact states, set-based, in one statement.
-- The dialer only reports; the retry and recycling rules are applied here.
--
-- Each record is checked against the dial task it names (dial_attempt_id): a record naming no
-- task, or whose campaign, contact or phone differs from its task's, or whose duration or local
-- hour is impossible, is moved to call_records_quarantine with the reason and applied to nobody;
-- its task then expires by the rules. The task's number is the one that counts, never the
-- record's phone string (compared digit for digit, so '1212...' matches '+1212...').
--
-- A result is applied whenever it comes, in attempt order (the dispatch number that ends the
-- dial_attempt_id, which never goes back): answered/converted complete the contact and opted_out
-- opts it out, whatever its state, unless a newer attempt of it already ended final; a failure
-- schedules the retry only if it is the contact's latest attempt and nothing newer is in flight
-- or has reported. A late result of a task that had expired counts as an attempt again.
WITH candidates AS (
    SELECT r.id, r.dial_attempt_id, r.outcome, t.contact_id, t.phone AS task_phone, t.status AS task_status,
           t.campaign_id AS task_campaign_id, t.run_id AS task_run_id,
           substring(t.dial_attempt_id FROM '-([0-9]+)$')::int AS seq,
           CASE
               WHEN t.dial_attempt_id IS NULL THEN 'unknown_dial_attempt_id'
               WHEN t.campaign_id <> r.campaign_id THEN 'campaign_mismatch'
               WHEN t.contact_id <> r.contact_id THEN 'contact_mismatch'
               WHEN r.phone <> t.phone
                    AND regexp_replace(r.phone, '[^0-9]', '', 'g') <> regexp_replace(t.phone, '[^0-9]', '', 'g')
                   THEN 'phone_mismatch'
               WHEN r.duration_s < 0 OR r.duration_s > %(max_duration_s)s OR r.ended_at < r.started_at
                   THEN 'bad_duration'
               WHEN r.local_hour NOT BETWEEN 0 AND 23 THEN 'bad_local_hour'
           END AS reason
    FROM call_records r
    LEFT JOIN dial_tasks t ON t.dial_attempt_id = r.dial_attempt_id
    WHERE r.campaign_id = %(campaign_id)s AND r.ingested_at IS NULL
    -- Of two ingests racing (a poke and the maintenance pass), the second waits here and then
    -- skips what the first took: nothing is applied twice.
    FOR UPDATE OF r
), quarantined AS (
    DELETE FROM call_records r
    USING candidates q
    WHERE r.id = q.id AND q.reason IS NOT NULL
    RETURNING r.*, q.reason, q.task_campaign_id, q.task_run_id
), kept AS (
    INSERT INTO call_records_quarantine (reason, task_campaign_id, task_run_id, record_id, dial_attempt_id,
                                         campaign_id, contact_id, phone, outcome, started_at, ended_at, duration_s,
                                         local_hour, created_at)
    SELECT q.reason, q.task_campaign_id, q.task_run_id, q.id, q.dial_attempt_id, q.campaign_id, q.contact_id,
           q.phone, q.outcome, q.started_at, q.ended_at, q.duration_s, q.local_hour, q.created_at
    FROM quarantined q
    RETURNING reason, dial_attempt_id, phone
), new_records AS (
    UPDATE call_records r
    SET ingested_at = now()
    FROM candidates n
    WHERE r.id = n.id AND n.reason IS NULL
    RETURNING n.dial_attempt_id, n.contact_id, n.outcome, n.seq, n.task_status
), tasks AS (
    UPDATE dial_tasks t
    SET status = 'completed', completed_at = now(), outcome = n.outcome
    FROM new_records n
    WHERE t.dial_attempt_id = n.dial_attempt_id
    RETURNING t.dial_attempt_id
), decided AS (
    -- One result decides per contact: its newest final one, else its newest.
    SELECT DISTINCT ON (n.contact_id)
           n.contact_id, n.outcome, n.seq,
           (n.outcome = ANY(%(final_outcomes)s::text[]) OR n.outcome = 'opted_out') AS final,
           count(*) FILTER (WHERE n.task_status = 'expired') OVER (PARTITION BY n.contact_id) AS revived
    FROM new_records n
    ORDER BY n.contact_id, (n.outcome = ANY(%(final_outcomes)s::text[]) OR n.outcome = 'opted_out') DESC,
             n.seq DESC NULLS LAST
), planned AS (
    SELECT d.contact_id, d.outcome,
           CASE
               WHEN d.final THEN
                   CASE WHEN c.status = 'opted_out' THEN 'none'
                        -- The contact's latest attempt: nothing newer can have reported.
                        WHEN c.dispatches = d.seq THEN 'final'
                        WHEN EXISTS (
                            SELECT 1 FROM dial_tasks t2
                            WHERE t2.contact_id = d.contact_id AND t2.status = 'completed'
                              AND substring(t2.dial_attempt_id FROM '-([0-9]+)$')::int > d.seq
                              AND (t2.outcome = ANY(%(final_outcomes)s::text[]) OR t2.outcome = 'opted_out'))
                        THEN 'none' ELSE 'final' END
               WHEN c.status = 'in_flight' AND c.dispatches = d.seq THEN 'retry'
               WHEN c.status IN ('pending', 'failed') AND NOT EXISTS (
                        SELECT 1 FROM dial_tasks t2
                        WHERE t2.contact_id = d.contact_id AND t2.status <> 'expired'
                          AND substring(t2.dial_attempt_id FROM '-([0-9]+)$')::int > d.seq)
                   THEN 'retry'
               ELSE 'none'
           END AS action,
           -- Expiry took the attempt back from a contact it returned to the queue; it happened after all.
           CASE WHEN c.status IN ('pending', 'failed', 'in_flight') THEN d.revived ELSE 0 END AS recount
    FROM decided d
    JOIN contacts c ON c.id = d.contact_id
), contacts_done AS (
    UPDATE contacts c
    SET attempts = c.attempts + p.recount,
        last_outcome = CASE WHEN p.action = 'none' THEN c.last_outcome ELSE p.outcome END,
        status_reason = CASE WHEN p.action = 'none' THEN c.status_reason END,
        status = CASE p.action
            WHEN 'final' THEN CASE WHEN p.outcome = 'opted_out' THEN 'opted_out' ELSE 'completed' END
            WHEN 'retry' THEN CASE WHEN c.attempts + p.recount >= %(max_attempts)s THEN 'exhausted' ELSE 'failed' END
            ELSE c.status END,
        next_attempt_at = CASE p.action
            WHEN 'final' THEN NULL
            -- The retry waits its delay and any lockout after its outcome (abandoned, machine),
            -- then rolls over any closed hours to when every one of the contact's windows has
            -- opened again (precomputed per window key and outcome).
            WHEN 'retry' THEN GREATEST(
                now() + make_interval(secs => coalesce((%(retry_delays)s::jsonb ->> p.outcome)::int, 3600)),
                (SELECT max((%(reopen_at)s::jsonb ->> (k || '#' || p.outcome))::timestamptz)
                 FROM unnest(c.window_keys) AS k))
            ELSE c.next_attempt_at END
    FROM planned p
    WHERE c.id = p.contact_id AND (p.action <> 'none' OR p.recount > 0)
    RETURNING c.id
)
SELECT (SELECT count(*) FROM new_records) AS ingested,
       (SELECT count(*) FROM tasks) AS tasks_completed,
       (SELECT count(*) FROM contacts_done) AS contacts_updated,
       -- The numbers dialed, for Redis: the trigger on call_records has put them in PostgreSQL.
       coalesce((SELECT array_agg(DISTINCT q.task_phone) FROM candidates q
                 WHERE q.outcome = 'opted_out' AND q.task_phone IS NOT NULL), '{}') AS opted_out_phones,
       coalesce((SELECT jsonb_agg(jsonb_build_object('reason', k.reason, 'dial_attempt_id', k.dial_attempt_id,
                                                     'phone', k.phone)) FROM kept k), '[]') AS quarantined
