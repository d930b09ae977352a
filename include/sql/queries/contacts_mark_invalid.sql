UPDATE contacts c
SET status = 'invalid', status_reason = r.reason, window_keys = '{}'
FROM unnest(%(ids)s::bigint[], %(reasons)s::text[]) AS r(id, reason)
WHERE c.id = r.id AND c.status = 'pending'
