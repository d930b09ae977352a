-- The answer-probability model the prioritization DAG trains from call_records.
-- score(contact, now) = rate of the contact's current local hour of week x the contact's affinity.
ALTER TABLE contacts ADD COLUMN answer_affinity real;   -- smoothed answer rate / global rate

CREATE TABLE answer_rate_by_hour (
    hour_of_week     smallint PRIMARY KEY CHECK (hour_of_week BETWEEN 0 AND 167),  -- Monday 00h = 0
    calls            integer NOT NULL,
    answered         integer NOT NULL,
    rate             real NOT NULL,
    trained_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE answer_model (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),   -- one row: the current model
    global_rate      real NOT NULL,
    hour_prior_strength real NOT NULL,
    contact_prior_strength real NOT NULL,
    calls            bigint NOT NULL,
    trained_at       timestamptz NOT NULL DEFAULT now()
);
