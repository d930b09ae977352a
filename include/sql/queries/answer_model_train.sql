-- Store the smoothed per-hour rates, each contact's affinity and the model row, in one statement.
WITH calls AS (
    SELECT r.contact_id, (r.outcome IN ('answered', 'converted', 'opted_out'))::int AS answered,
           ((extract(isodow FROM r.started_at AT TIME ZONE coalesce(c.timezones[1], 'UTC'))::int - 1) * 24
            + extract(hour FROM r.started_at AT TIME ZONE coalesce(c.timezones[1], 'UTC'))::int) AS hour_of_week
    FROM call_records r JOIN contacts c ON c.id = r.contact_id
    WHERE r.started_at > now() - make_interval(days => %(lookback_days)s)
), hours AS (
    INSERT INTO answer_rate_by_hour (hour_of_week, calls, answered, rate, trained_at)
    SELECT h, coalesce(count(calls.answered), 0), coalesce(sum(calls.answered), 0),
           (coalesce(sum(calls.answered), 0) + %(hour_k)s * %(global_rate)s) / (count(calls.answered) + %(hour_k)s),
           now()
    FROM generate_series(0, 167) AS h LEFT JOIN calls ON calls.hour_of_week = h
    GROUP BY h
    ON CONFLICT (hour_of_week) DO UPDATE
    SET calls = EXCLUDED.calls, answered = EXCLUDED.answered, rate = EXCLUDED.rate, trained_at = now()
), per_contact AS (
    SELECT contact_id, count(*) AS n, sum(answered) AS a FROM calls GROUP BY contact_id
), affinity AS (
    UPDATE contacts c
    SET answer_affinity = ((p.a + %(contact_k)s * %(global_rate)s) / (p.n + %(contact_k)s)) / %(global_rate)s
    FROM per_contact p
    WHERE c.id = p.contact_id
    RETURNING 1
)
INSERT INTO answer_model (id, global_rate, hour_prior_strength, contact_prior_strength, calls, trained_at)
VALUES (true, %(global_rate)s, %(hour_k)s, %(contact_k)s, %(calls)s, now())
ON CONFLICT (id) DO UPDATE
SET global_rate = EXCLUDED.global_rate, hour_prior_strength = EXCLUDED.hour_prior_strength,
    contact_prior_strength = EXCLUDED.contact_prior_strength, calls = EXCLUDED.calls, trained_at = now()
RETURNING (SELECT count(*) FROM affinity) AS contacts_scored
