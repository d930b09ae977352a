-- The fields that shape a campaign's DAG; one indexed scan, run on every parse.
-- Config values are read only when well-formed: one campaign's malformed config must not fail
-- this query, and with it every campaign's DAG (validation reports it on the campaign's run).
SELECT id, slug, name, schedule, timezone, start_at, end_at, status, owner, tags, poke_interval_s,
       CASE WHEN config ->> 'expected_duration_s' ~ '^[0-9]{1,9}$'
            THEN (config ->> 'expected_duration_s')::int END AS expected_duration_s,
       CASE WHEN config ->> 'dispatch_shards' ~ '^([1-9]|1[0-6])$'
            THEN (config ->> 'dispatch_shards')::int ELSE 1 END AS dispatch_shards
FROM campaigns
WHERE status <> 'archived'
  AND (%(slug)s::text IS NULL OR slug = %(slug)s::text)
ORDER BY slug
