-- One live dispatcher per campaign shard. Session-level, so it is released when the connection
-- closes, including when the process holding it dies. A dispatcher of the whole campaign (the
-- sensor's top-up) asks for every shard's lock: it may not resend rows a live shard claimed.
-- Try-locks never wait, so the order they are taken in cannot deadlock.
SELECT s AS shard, pg_try_advisory_lock(%(campaign_id)s::int, s) AS locked
FROM unnest(%(shards)s::int[]) AS s
