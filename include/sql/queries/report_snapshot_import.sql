-- Read the report transaction's snapshot (report_snapshot_export.sql). A SET takes no server-side
-- parameters: the snapshot id is bound client-side, escaped.
SET TRANSACTION SNAPSHOT %(snapshot)s
