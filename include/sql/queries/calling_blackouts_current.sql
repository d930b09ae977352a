-- Blackouts in force now or later; the table holds a handful of rows, past ones are kept for the record.
SELECT jurisdiction, starts_at, ends_at, reason
FROM calling_blackouts
WHERE ends_at > %(now)s
ORDER BY starts_at, id
