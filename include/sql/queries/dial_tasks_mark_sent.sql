UPDATE dial_tasks t
SET status = 'sent', sent_at = now(), message_id = s.message_id
FROM unnest(%(ids)s::text[], %(message_ids)s::text[]) AS s(dial_attempt_id, message_id)
WHERE t.dial_attempt_id = s.dial_attempt_id AND t.status = 'claimed'
