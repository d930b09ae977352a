-- One live dispatcher per campaign shard. Session-level, so it is released when the connection
-- closes, including when the process holding it dies.
SELECT pg_try_advisory_lock(%(campaign_id)s::int, %(shard)s::int) AS locked
