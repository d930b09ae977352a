SELECT pg_advisory_unlock(%(campaign_id)s::int, %(shard)s::int) AS unlocked
