-- The fields that shape a campaign's DAG; one indexed scan, run on every parse.
-- Config values are read only when well-formed: one campaign's malformed config must not fail
-- this query, and with it every campaign's DAG (validation reports it on the campaign's run).
-- The dates come as epoch seconds: a timestamptz of 'infinity' or past year 9999 cannot become
-- a Python datetime, and decoding it in the driver would fail the whole fetch. The loader
-- checks each row on its own (include/campaigns/campaign_row.py).
SELECT id, slug, name, schedule, timezone,
       extract(epoch FROM start_at) AS start_at, extract(epoch FROM end_at) AS end_at,
       status, owner, tags, poke_interval_s,
       CASE WHEN config ->> 'expected_duration_s' ~ '^[0-9]{1,8}$'
             AND (config ->> 'expected_duration_s')::int BETWEEN 1 AND 31622400
            THEN (config ->> 'expected_duration_s')::int END AS expected_duration_s,
       CASE WHEN config ->> 'dispatch_shards' ~ '^([1-9]|1[0-6])$'
            THEN (config ->> 'dispatch_shards')::int ELSE 1 END AS dispatch_shards,
       catalog_error
FROM campaigns
WHERE status <> 'archived'
  AND (%(slug)s::text IS NULL OR slug = %(slug)s::text)
ORDER BY slug
