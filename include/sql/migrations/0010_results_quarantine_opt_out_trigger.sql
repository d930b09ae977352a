-- Results are checked against their dial task before anything is applied. A record that does not
-- match it (campaign, contact or phone), names no dial task, or carries an impossible duration or
-- local hour is moved here with the reason: kept, counted in the report, never applied to a contact.
-- Its dial task then expires by the rules, as if no result had come.
CREATE TABLE call_records_quarantine (
    id               bigserial PRIMARY KEY,
    reason           text NOT NULL,
    -- The dial task the record named, when there is one: whose run counts it.
    task_campaign_id bigint,
    task_run_id      text,
    -- The record as the dialer wrote it.
    record_id        bigint NOT NULL,
    dial_attempt_id  text NOT NULL,
    campaign_id      bigint,
    contact_id       bigint,
    phone            text,
    outcome          text,
    started_at       timestamptz,
    ended_at         timestamptz,
    duration_s       integer,
    local_hour       smallint,
    created_at       timestamptz,
    quarantined_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_records_quarantine_task_idx ON call_records_quarantine (task_campaign_id, task_run_id);
CREATE INDEX call_records_quarantine_campaign_idx ON call_records_quarantine (campaign_id);

-- An opt-out binds the moment the dialer records it, whatever state any run is in and whether or
-- not a poke ever ingests the record: the number DIALED (the dial task's, never the record's own
-- phone string) goes on the global blacklist in the dialer's own transaction. It acts even on a
-- record that is later quarantined: a number wrongly blocked costs a call, one wrongly dialed
-- after an opt-out costs a lawsuit.
--
-- Numbers that opted out go on the global blacklist for good: a global entry that had expired is
-- made permanent again. Shared by every trigger that records an opt-out.
CREATE FUNCTION blacklist_opt_outs(phones text[]) RETURNS void LANGUAGE sql AS $$
    WITH opted AS (
        SELECT DISTINCT p AS phone FROM unnest(phones) AS p
    ), renewed AS (
        UPDATE blacklist b SET expires_at = NULL, reason = 'opted_out'
        FROM opted o
        WHERE b.phone = o.phone AND b.campaign_id IS NULL AND b.expires_at IS NOT NULL
        RETURNING b.phone
    )
    INSERT INTO blacklist (phone, campaign_id, reason)
    SELECT o.phone, NULL, 'opted_out' FROM opted o
    WHERE NOT EXISTS (SELECT 1 FROM renewed r WHERE r.phone = o.phone)
    ON CONFLICT DO NOTHING;
$$;

CREATE FUNCTION call_records_blacklist_opt_outs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM blacklist_opt_outs(ARRAY(
        SELECT t.phone
        FROM new_rows n JOIN dial_tasks t ON t.dial_attempt_id = n.dial_attempt_id
        WHERE n.outcome = 'opted_out'));
    RETURN NULL;
END;
$$;

CREATE TRIGGER call_records_opt_out AFTER INSERT ON call_records
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION call_records_blacklist_opt_outs();
-- ALWAYS: bulk loaders run with session_replication_role = replica, which skips ordinary triggers.
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_opt_out;
