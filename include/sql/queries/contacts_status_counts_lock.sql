-- May this transaction store a recount? Only while no writer of the campaign is in progress; a
-- writer holds this key shared until it commits (migration 0007). Never waits.
SELECT pg_try_advisory_xact_lock(7100222, (%(campaign_id)s::bigint %% 2147483647)::int) AS locked
