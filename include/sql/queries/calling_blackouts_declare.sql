INSERT INTO calling_blackouts (jurisdiction, starts_at, ends_at, reason, declared_by)
VALUES (%(jurisdiction)s, %(starts_at)s, %(ends_at)s, %(reason)s, %(declared_by)s)
RETURNING id
