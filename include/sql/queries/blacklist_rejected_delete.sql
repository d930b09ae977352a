DELETE FROM blacklist_rejected WHERE id = ANY(%(ids)s::bigint[])
