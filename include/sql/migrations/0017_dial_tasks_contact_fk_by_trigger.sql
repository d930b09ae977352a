-- Every claimed dial task checked its contact through the foreign key: one FOR KEY SHARE lookup
-- per row, a tenth or more of the claim's cost per contact. The check adds nothing there: the
-- claim statement writes a dial task only for a contact it has just locked FOR UPDATE in the same
-- statement (so the contact exists and cannot be deleted before the claim commits), and nothing
-- else writes dial tasks. What the foreign key did on delete is kept, by a statement trigger:
-- deleting contacts (a campaign's delete included) deletes their dial tasks in the same
-- transaction. A delete racing a claim waits for the claim's row lock, and its trigger's statement
-- then sees the claim's dial tasks committed.
ALTER TABLE dial_tasks DROP CONSTRAINT dial_tasks_contact_id_fkey;

CREATE FUNCTION contacts_delete_dial_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dial_tasks t USING old_rows o WHERE t.contact_id = o.id;
    RETURN NULL;
END;
$$;

-- A DELETE, not a TRUNCATE: a TRUNCATE of both tables at once has dial_tasks in use here.
CREATE FUNCTION contacts_truncate_dial_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dial_tasks;
    RETURN NULL;
END;
$$;

CREATE TRIGGER contacts_delete_dial_tasks AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_delete_dial_tasks();
CREATE TRIGGER contacts_truncate_dial_tasks AFTER TRUNCATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_truncate_dial_tasks();
-- ALWAYS: bulk loaders run with session_replication_role = replica, which skips ordinary triggers.
ALTER TABLE contacts ENABLE ALWAYS TRIGGER contacts_delete_dial_tasks;
ALTER TABLE contacts ENABLE ALWAYS TRIGGER contacts_truncate_dial_tasks;
