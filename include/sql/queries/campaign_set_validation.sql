UPDATE campaigns SET validation_errors = %(errors)s::jsonb, updated_at = now() WHERE id = %(campaign_id)s
