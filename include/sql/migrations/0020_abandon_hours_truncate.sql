-- A truncate of call_records clears the abandonment counts kept per hour (migration 0019) with a
-- TRUNCATE of its own, not a DELETE. A DELETE reads one snapshot: a fold committing while it waits
-- (campaign_abandon_fold.sql deletes a campaign's rows and writes their sums in one statement) has
-- its rows skipped as already deleted and its sums, written after that snapshot, never seen, so the
-- sums outlived the records they counted. TRUNCATE waits for the fold to commit, then takes every
-- row, whatever the session's isolation level.
CREATE OR REPLACE FUNCTION call_record_live_hours_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE call_record_live_hours;
    RETURN NULL;
END;
$$;
