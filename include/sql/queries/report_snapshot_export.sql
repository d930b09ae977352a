-- The report transaction's snapshot, for the second connection to read the same data.
SELECT pg_export_snapshot() AS snapshot
