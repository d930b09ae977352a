-- The fields that shape a campaign's DAG; one indexed scan, run on every parse.
SELECT id, slug, name, schedule, timezone, start_at, end_at, status, owner, tags, poke_interval_s,
       (config ->> 'expected_duration_s')::int AS expected_duration_s
FROM campaigns
WHERE status <> 'archived'
  AND (%(slug)s::text IS NULL OR slug = %(slug)s::text)
ORDER BY slug
