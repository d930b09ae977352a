-- Sufficient statistics for empirical-Bayes smoothing, in one pass over recent call records.
-- A call is "answered" when a person picked up: answered, converted or opted out.
WITH calls AS (
    SELECT r.contact_id, (r.outcome IN ('answered', 'converted', 'opted_out'))::int AS answered
    FROM call_records r
    WHERE r.started_at > now() - make_interval(days => %(lookback_days)s)
), per_contact AS (
    SELECT contact_id, count(*) AS n, sum(answered) AS a FROM calls GROUP BY contact_id
)
SELECT coalesce(sum(n), 0)::bigint AS calls, coalesce(sum(a), 0)::bigint AS answered, count(*) AS contacts,
       avg(a::float8 / n) AS mean_rate, var_pop(a::float8 / n) AS var_rate, avg(1.0::float8 / n) AS mean_inv_n
FROM per_contact
