-- A contact's number is resolved once (E.164, zones, jurisdiction, window keys) and every list is
-- matched against that E.164 form by plain equality. A number an operator rewrites afterwards, in
-- whatever shape, would otherwise be dialed as typed: unmatched by the blacklist, outside the
-- windows of where it really rings. So a changed number drops the contact's resolution; the next
-- dispatch resolves it again before it can be claimed (an unresolved contact has no window key
-- and is never claimed). Only pending contacts are resolved, and a contact's retry state does not
-- survive a new number, so an unresolved contact that would wait for a retry waits as pending.
-- A WHEN clause, so the usual bulk updates of contacts never call the function.
CREATE FUNCTION contacts_phone_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone IS DISTINCT FROM OLD.phone AND OLD.window_keys IS NOT NULL
       AND NEW.window_keys IS NOT DISTINCT FROM OLD.window_keys THEN
        NEW.timezones := NULL;
        NEW.jurisdiction := NULL;
        NEW.window_keys := NULL;
    END IF;
    IF NEW.window_keys IS NULL AND NEW.status = 'failed' THEN
        NEW.status := 'pending';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER contacts_phone_change BEFORE UPDATE ON contacts FOR EACH ROW
    WHEN ((NEW.phone IS DISTINCT FROM OLD.phone AND OLD.window_keys IS NOT NULL)
          OR (NEW.window_keys IS NULL AND NEW.status = 'failed'))
    EXECUTE FUNCTION contacts_phone_changed();
ALTER TABLE contacts ENABLE ALWAYS TRIGGER contacts_phone_change;

-- An opt-out binds however the dialer writes it: a record inserted with another outcome and
-- corrected to opted_out (the IVR's last key, a dialer that upserts) blacklists the number dialed
-- too, even when the record was already ingested. Only a change to opted_out acts, so an ingest
-- marking records never renews an entry an operator has since ended.
CREATE FUNCTION call_records_blacklist_corrected_opt_outs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM blacklist_opt_outs(ARRAY(
        SELECT t.phone
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        JOIN dial_tasks t ON t.dial_attempt_id = n.dial_attempt_id
        WHERE n.outcome = 'opted_out'
          AND (o.outcome IS DISTINCT FROM 'opted_out' OR o.dial_attempt_id IS DISTINCT FROM n.dial_attempt_id)));
    RETURN NULL;
END;
$$;

CREATE TRIGGER call_records_opt_out_corrected AFTER UPDATE ON call_records
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_records_blacklist_corrected_opt_outs();
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_opt_out_corrected;

-- The claim's 24 h cap counts an expired dial task whose result has come (a call that happened,
-- not ingested yet): found by number, as the other tasks are.
CREATE INDEX dial_tasks_phone_expired_idx ON dial_tasks (phone, claimed_at) WHERE status = 'expired';
