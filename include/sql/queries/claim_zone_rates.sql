-- The answer model's rate for the current local hour of week in each zone: one number per zone,
-- which is what lets the claim walk each zone in an index.
-- An hour with no data has the global rate (what the model shrinks it to); with no model at all
-- every zone has 1, and the order falls to priority, attempts, age.
SELECT z.zone, coalesce(h.rate, m.global_rate, 1.0)::float8 AS rate
FROM unnest(%(zones)s::text[]) AS z(zone)
LEFT JOIN answer_model m ON true
LEFT JOIN answer_rate_by_hour h ON h.hour_of_week =
    (extract(isodow FROM %(now)s::timestamptz AT TIME ZONE z.zone)::int - 1) * 24
    + extract(hour FROM %(now)s::timestamptz AT TIME ZONE z.zone)::int
