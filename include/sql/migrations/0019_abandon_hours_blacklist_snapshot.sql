-- The abandonment rate from kept counts, and a commit-safe blacklist watermark.
--
-- 1. A campaign's abandoned calls and live answers per UTC hour of their start, kept by the
-- statements that write call records (the pattern of contact_status_deltas, migration 0018): every
-- statement that inserts or deletes records, or corrects one's outcome, start or campaign, appends
-- in its own transaction one row per (campaign, hour) it changed. The sum of a campaign's rows over
-- an hour equals a count of its records started in that hour, in any snapshot, so the rate over a
-- rolling window sums a few rows per hour and counts from call_records only the part of an hour
-- the window starts in (campaign_abandon_rate.sql). Writers only append; a reader folds now and then.
CREATE TABLE call_record_live_hours (
    campaign_id  bigint NOT NULL,
    hour         timestamptz NOT NULL,  -- date_trunc('hour', started_at, 'UTC')
    abandoned    bigint NOT NULL,
    live         bigint NOT NULL        -- answered, converted, opted_out or abandoned: a person picked up
);
CREATE INDEX call_record_live_hours_campaign_idx ON call_record_live_hours (campaign_id, hour);

CREATE FUNCTION call_record_live_hours_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_record_live_hours (campaign_id, hour, abandoned, live)
    SELECT campaign_id, date_trunc('hour', started_at, 'UTC'), count(*) FILTER (WHERE outcome = 'abandoned'), count(*)
    FROM new_rows
    WHERE outcome IN ('answered', 'converted', 'opted_out', 'abandoned')
    GROUP BY 1, 2;
    RETURN NULL;
END;
$$;

CREATE FUNCTION call_record_live_hours_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_record_live_hours (campaign_id, hour, abandoned, live)
    SELECT campaign_id, date_trunc('hour', started_at, 'UTC'), -count(*) FILTER (WHERE outcome = 'abandoned'), -count(*)
    FROM old_rows
    WHERE outcome IN ('answered', 'converted', 'opted_out', 'abandoned')
    GROUP BY 1, 2;
    RETURN NULL;
END;
$$;

-- A correction moves one record from its old (campaign, hour, outcome) to its new one.
CREATE FUNCTION call_record_live_hours_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_record_live_hours (campaign_id, hour, abandoned, live)
    SELECT campaign_id, date_trunc('hour', started_at, 'UTC'), sum(abandoned), sum(live)
    FROM (VALUES (OLD.campaign_id, OLD.started_at, -(OLD.outcome = 'abandoned')::int,
                  CASE WHEN OLD.outcome IN ('answered', 'converted', 'opted_out', 'abandoned') THEN -1 ELSE 0 END),
                 (NEW.campaign_id, NEW.started_at, (NEW.outcome = 'abandoned')::int,
                  CASE WHEN NEW.outcome IN ('answered', 'converted', 'opted_out', 'abandoned') THEN 1 ELSE 0 END))
         AS moved (campaign_id, started_at, abandoned, live)
    GROUP BY 1, 2
    HAVING sum(abandoned) <> 0 OR sum(live) <> 0;
    RETURN NULL;
END;
$$;

CREATE FUNCTION call_record_live_hours_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM call_record_live_hours;
    RETURN NULL;
END;
$$;

-- No writer may change call records between the first count below and the triggers taking over.
LOCK TABLE call_records IN SHARE MODE;

CREATE TRIGGER call_records_live_hours_insert AFTER INSERT ON call_records
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION call_record_live_hours_insert();
CREATE TRIGGER call_records_live_hours_delete AFTER DELETE ON call_records
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION call_record_live_hours_delete();
-- A row trigger with a column list and a WHEN clause: the ingest's updates of ingested_at never call it.
CREATE TRIGGER call_records_live_hours_update AFTER UPDATE OF outcome, started_at, campaign_id ON call_records
    FOR EACH ROW
    WHEN (OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.started_at IS DISTINCT FROM NEW.started_at
          OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id)
    EXECUTE FUNCTION call_record_live_hours_update();
CREATE TRIGGER call_records_live_hours_truncate AFTER TRUNCATE ON call_records
    FOR EACH STATEMENT EXECUTE FUNCTION call_record_live_hours_truncate();
-- ALWAYS: bulk loaders run with session_replication_role = replica, which skips ordinary triggers.
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_live_hours_insert;
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_live_hours_delete;
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_live_hours_update;
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_live_hours_truncate;

INSERT INTO call_record_live_hours (campaign_id, hour, abandoned, live)
SELECT campaign_id, date_trunc('hour', started_at, 'UTC'), count(*) FILTER (WHERE outcome = 'abandoned'), count(*)
FROM call_records
WHERE outcome IN ('answered', 'converted', 'opted_out', 'abandoned')
GROUP BY 1, 2;

-- 2. Which blacklist entries a campaign has checked its contacts against, as a snapshot: an entry
-- is new to the campaign exactly when the transaction that added it is not visible in the snapshot
-- of the campaign's last check, however late it committed. Each entry is then looked up once, not
-- on every poke of a time overlap. Entries from before this migration have no transaction id; a
-- campaign's first check after it goes by created_at, as before (contacts_mark_blacklisted.sql).
ALTER TABLE blacklist ADD COLUMN created_xid xid8;
ALTER TABLE blacklist ALTER COLUMN created_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX blacklist_created_xid_idx ON blacklist (created_xid);
-- An entry changed in what it blocks (one that had ended made active again by an import or an
-- opt-out, a longer expiry, its number rewritten, its scope) is new again to every campaign.
CREATE FUNCTION blacklist_changed_is_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_xid := pg_current_xact_id();
    RETURN NEW;
END;
$$;
CREATE TRIGGER blacklist_changed_is_new BEFORE UPDATE OF phone, campaign_id, expires_at, created_at ON blacklist
    FOR EACH ROW
    WHEN (OLD.phone IS DISTINCT FROM NEW.phone OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id
          OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION blacklist_changed_is_new();
ALTER TABLE blacklist ENABLE ALWAYS TRIGGER blacklist_changed_is_new;
ALTER TABLE campaigns ADD COLUMN blacklist_snapshot pg_snapshot;

-- 3. The open dial tasks by status, then last start: the resend of claimed-but-unsent tasks
-- (dial_tasks_unsent.sql) is one index range, not a read of every task in the hopper, and the
-- expiry and the hopper count use it as they used the index it replaces (one range per status).
-- Status was already in that index's predicate, so a task's updates cost no more than before.
CREATE INDEX IF NOT EXISTS dial_tasks_open_status_not_after_idx ON dial_tasks (campaign_id, status, not_after)
    WHERE status IN ('claimed', 'sent');
DROP INDEX IF EXISTS dial_tasks_open_not_after_idx;
