SELECT s AS shard, pg_advisory_unlock(%(campaign_id)s::int, s) AS unlocked
FROM unnest(%(shards)s::int[]) AS s
