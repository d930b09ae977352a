-- The per-contact CSV, rendered by PostgreSQL in id order: formatting a million rows in Python took
-- 8 s. Cells read exactly as report_render.render_csv writes them: NULL and '' as an empty cell,
-- timestamps as Python's isoformat() in the session time zone (no fraction when it is zero), and the
-- phone as phones.mask leaves it, so a number never leaves the database whole. A number stored as
-- E.164 ('+' and more than four digits) is its last four characters, read without stripping its
-- digits out with a regular expression, which cost more than the rest of the row.
-- COPY takes no server-side parameters: psycopg binds campaign_id client-side, escaped.
COPY (
    SELECT c.id AS contact_id,
           nullif(c.external_ref, '') AS external_ref,
           CASE WHEN c.phone LIKE '+%%' AND c.phone NOT LIKE '_%%+%%' AND c.phone !~ '[^0-9+]'
                     AND octet_length(c.phone) > 5
                    THEN '***' || right(c.phone, 4)
                WHEN c.phone = '' THEN '<none>'
                WHEN length(regexp_replace(c.phone, '[^0-9]', '', 'g')) > 4
                    THEN '***' || right(regexp_replace(c.phone, '[^0-9]', '', 'g'), 4)
                ELSE '***' END AS phone_masked,
           c.status,
           c.attempts,
           nullif(c.last_outcome, '') AS last_outcome,
           replace(to_char(c.last_attempt_at, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM'), '.000000', '') AS last_attempt_at,
           nullif(c.status_reason, '') AS status_reason
    FROM contacts c
    WHERE c.campaign_id = %(campaign_id)s
    ORDER BY c.id
) TO STDOUT WITH (FORMAT csv, HEADER, ENCODING 'UTF8')
