UPDATE blacklist_rejected SET refused_reason = %(reason)s WHERE id = ANY(%(ids)s::bigint[])
