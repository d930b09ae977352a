-- Declared periods when no call may reach a jurisdiction: a state of emergency (Louisiana bans
-- solicitation while one is declared), a holiday proclaimed at short notice, an operator's stop.
-- Dispatch reads the rows that have not ended on every call, so a new row takes effect at the
-- next poke: no deploy, no restart. A row for a country ('US') covers its subdivisions; one for
-- '*' covers every number.
CREATE TABLE calling_blackouts (
    id            bigserial PRIMARY KEY,
    jurisdiction  text        NOT NULL CHECK (jurisdiction ~ '^(\*|[A-Z]{2}(-[A-Z0-9]{1,3})?)$'),
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    reason        text        NOT NULL CHECK (btrim(reason) <> ''),
    declared_by   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE INDEX calling_blackouts_ends_at ON calling_blackouts (ends_at);
