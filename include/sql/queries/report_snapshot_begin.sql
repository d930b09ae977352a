-- The first statement of the report's transaction: every figure of the report, and the per-contact
-- CSV read beside it on a second connection, come from this one snapshot.
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY
