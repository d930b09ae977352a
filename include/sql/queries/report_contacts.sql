-- The per-contact CSV, rendered by PostgreSQL in id order: formatting a million rows in Python took
-- 8 s. Cells read exactly as report_render.render_csv writes them: NULL and '' as an empty cell,
-- timestamps as Python's isoformat() in the session time zone (no fraction when it is zero), and the
-- phone as phones.mask leaves it, so a number never leaves the database whole.
-- COPY takes no server-side parameters: psycopg binds campaign_id client-side, escaped.
COPY (
    SELECT c.id AS contact_id,
           nullif(c.external_ref, '') AS external_ref,
           CASE WHEN c.phone = '' THEN '<none>'
                WHEN length(d.digits) > 4 THEN '***' || right(d.digits, 4)
                ELSE '***' END AS phone_masked,
           c.status,
           c.attempts,
           nullif(c.last_outcome, '') AS last_outcome,
           replace(to_char(c.last_attempt_at, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'), '.000000', '') AS last_attempt_at,
           nullif(c.status_reason, '') AS status_reason
    FROM contacts c
    -- OFFSET 0 keeps the subquery from being inlined, which would run the regex twice per row.
    CROSS JOIN LATERAL (SELECT regexp_replace(c.phone, '[^0-9]', '', 'g') AS digits OFFSET 0) d
    WHERE c.campaign_id = %(campaign_id)s
    ORDER BY c.id
) TO STDOUT WITH (FORMAT csv, HEADER, ENCODING 'UTF8')
