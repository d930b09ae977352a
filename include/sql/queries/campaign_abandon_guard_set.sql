-- Record whether the campaign's abandonment rate is over its limit; say whether it just crossed
-- it (it was not over before), so the alert goes out once per crossing, not on every poke.
WITH before AS (
    SELECT id, abandon_guard_since FROM campaigns WHERE id = %(campaign_id)s FOR UPDATE
)
UPDATE campaigns c
SET abandon_guard_since = CASE WHEN %(exceeded)s THEN coalesce(b.abandon_guard_since, now()) END,
    abandon_rate_checked_at = now()
FROM before b
WHERE c.id = b.id
RETURNING %(exceeded)s AND b.abandon_guard_since IS NULL AS crossed,
          NOT %(exceeded)s AND b.abandon_guard_since IS NOT NULL AS cleared
