-- Lockouts after an outcome bind the number, not the contact row: a number abandoned by one
-- campaign is not dialed by another within the lockout, nor by a contact re-imported with it.
--
-- The latest instant each number had each lockout outcome, whichever campaign dialed it. The claim
-- works out the lockout's end from it with the rules in force (the hours, and the called party's
-- local day), so a rules change applies at once. One row per number and outcome: the latest call
-- is the one whose lockout ends last, and the claim's probe stays one index lookup.
CREATE TABLE number_lockouts (
    phone            text NOT NULL,          -- the number dialed: the dial task's, in E.164
    outcome          text NOT NULL CHECK (outcome IN ('abandoned', 'machine')),
    outcome_at       timestamptz NOT NULL,
    dial_attempt_id  text NOT NULL,          -- the call it came from, for the record
    PRIMARY KEY (phone, outcome)
);

-- Recorded in the dialer's own transaction, so a claim that starts after the result is written
-- sees the lockout, whether or not the result has been ingested. The instant is when the result
-- is written, never before the call ended: a late result locks from its arrival, the safe side.
-- The number is the dial task's, never the record's phone string; a record naming no dial task was
-- no call of ours.
CREATE FUNCTION number_lockouts_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO number_lockouts (phone, outcome, outcome_at, dial_attempt_id)
    SELECT t.phone, NEW.outcome, now(), NEW.dial_attempt_id
    FROM dial_tasks t WHERE t.dial_attempt_id = NEW.dial_attempt_id
    ON CONFLICT (phone, outcome) DO UPDATE
        SET outcome_at = EXCLUDED.outcome_at, dial_attempt_id = EXCLUDED.dial_attempt_id
        WHERE number_lockouts.outcome_at < EXCLUDED.outcome_at;
    RETURN NULL;
END;
$$;

-- Row triggers with a WHEN clause: the other outcomes, and the ingest's updates of ingested_at,
-- never call the function. A record corrected to a lockout outcome later locks from then.
CREATE TRIGGER call_records_number_lockout AFTER INSERT ON call_records FOR EACH ROW
    WHEN (NEW.outcome IN ('abandoned', 'machine'))
    EXECUTE FUNCTION number_lockouts_record();
CREATE TRIGGER call_records_number_lockout_corrected AFTER UPDATE OF outcome, dial_attempt_id ON call_records
    FOR EACH ROW
    WHEN (NEW.outcome IN ('abandoned', 'machine')
          AND (OLD.outcome IS DISTINCT FROM NEW.outcome OR OLD.dial_attempt_id IS DISTINCT FROM NEW.dial_attempt_id))
    EXECUTE FUNCTION number_lockouts_record();
-- ALWAYS: bulk loaders run with session_replication_role = replica, which skips ordinary triggers.
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_number_lockout;
ALTER TABLE call_records ENABLE ALWAYS TRIGGER call_records_number_lockout_corrected;

-- The results already recorded, from when each was written (never before its call ended).
INSERT INTO number_lockouts (phone, outcome, outcome_at, dial_attempt_id)
SELECT DISTINCT ON (t.phone, r.outcome) t.phone, r.outcome, greatest(r.created_at, r.ended_at), r.dial_attempt_id
FROM call_records r JOIN dial_tasks t ON t.dial_attempt_id = r.dial_attempt_id
WHERE r.outcome IN ('abandoned', 'machine')
ORDER BY t.phone, r.outcome, greatest(r.created_at, r.ended_at) DESC;
