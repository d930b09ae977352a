-- The campaign data model. The dialer writes only call_records; everything else is ours.

CREATE TABLE campaigns (
    id               bigserial PRIMARY KEY,
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_]{0,62}$'),
    name             text NOT NULL,
    campaign_type    text NOT NULL DEFAULT 'outbound_ivr',
    status           text NOT NULL DEFAULT 'draft' CHECK (status IN
                     ('draft', 'scheduled', 'active', 'paused', 'completed', 'cancelled', 'failed', 'archived')),
    timezone         text NOT NULL DEFAULT 'UTC',
    schedule         text,                 -- cron in `timezone`; NULL runs once at start_at
    start_at         timestamptz NOT NULL,
    end_at           timestamptz NOT NULL,
    owner            text NOT NULL DEFAULT 'campaign-ops',
    tags             text[] NOT NULL DEFAULT '{}',
    poke_interval_s  integer NOT NULL DEFAULT 60 CHECK (poke_interval_s BETWEEN 1 AND 3600),
    max_in_flight    integer NOT NULL DEFAULT 500 CHECK (max_in_flight > 0),
    config           jsonb NOT NULL DEFAULT '{}',
    validation_errors jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- The catalog query reads every non-archived campaign on each parse.
CREATE INDEX campaigns_catalog_idx ON campaigns (slug) WHERE status <> 'archived';

CREATE TABLE contacts (
    id               bigserial PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    external_ref     text,
    phone            text NOT NULL,        -- E.164
    timezone         text,                 -- IANA; NULL means derive from the phone number
    region           text,                 -- address state/province code, when known
    -- Resolved once from phone, timezone and region (see phones.resolve): NULL until then.
    timezones        text[],
    jurisdiction     text,
    window_keys      text[],               -- zone|jurisdiction, one per zone the number rings in
    priority         integer NOT NULL DEFAULT 0,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN
                     ('pending', 'in_flight', 'failed', 'completed', 'opted_out', 'exhausted',
                      'blacklisted', 'invalid', 'expired')),
    attempts         integer NOT NULL DEFAULT 0,   -- attempts that reached the dialer
    dispatches       integer NOT NULL DEFAULT 0,   -- dial tasks ever claimed; names dial_attempt_id
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    last_outcome     text,
    status_reason    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, phone)
);
-- Dispatch scans only the contacts that can still be dialed, in priority order.
CREATE INDEX contacts_dispatchable_idx ON contacts (campaign_id, priority DESC, attempts, id)
    WHERE status IN ('pending', 'failed');
CREATE INDEX contacts_campaign_status_idx ON contacts (campaign_id, status);
CREATE INDEX contacts_phone_idx ON contacts (phone);
CREATE INDEX contacts_unresolved_idx ON contacts (campaign_id, id) WHERE window_keys IS NULL AND status = 'pending';

-- The distinct window keys of a campaign's contacts: dispatch evaluates each once, not per contact.
CREATE TABLE campaign_window_keys (
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    window_key       text NOT NULL,
    PRIMARY KEY (campaign_id, window_key)
);

CREATE TABLE blacklist (
    id               bigserial PRIMARY KEY,
    phone            text NOT NULL,
    campaign_id      bigint REFERENCES campaigns (id) ON DELETE CASCADE,  -- NULL: every campaign
    reason           text NOT NULL DEFAULT 'do_not_call',
    expires_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX blacklist_phone_scope_idx ON blacklist (phone, coalesce(campaign_id, 0));

-- The dispatch ledger: one row per dial task, claimed before it is sent.
CREATE TABLE dial_tasks (
    dial_attempt_id  text PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id       bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    phone            text NOT NULL,
    attempt          integer NOT NULL,
    run_id           text NOT NULL,
    status           text NOT NULL DEFAULT 'claimed' CHECK (status IN
                     ('claimed', 'sent', 'completed', 'expired')),
    not_after        timestamptz NOT NULL,
    claimed_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    message_id       text,
    completed_at     timestamptz,
    outcome          text
);
CREATE INDEX dial_tasks_open_idx ON dial_tasks (campaign_id, status) WHERE status IN ('claimed', 'sent');
CREATE INDEX dial_tasks_contact_idx ON dial_tasks (contact_id);
CREATE INDEX dial_tasks_run_idx ON dial_tasks (campaign_id, run_id);
-- The rolling 24 h frequency cap counts a phone's dial tasks across every campaign.
CREATE INDEX dial_tasks_phone_recent_idx ON dial_tasks (phone, claimed_at) WHERE status <> 'expired';

CREATE TABLE call_records (
    id               bigserial PRIMARY KEY,
    dial_attempt_id  text NOT NULL UNIQUE,
    campaign_id      bigint NOT NULL,
    contact_id       bigint NOT NULL,
    phone            text NOT NULL,
    outcome          text NOT NULL CHECK (outcome IN
                     ('answered', 'converted', 'voicemail', 'busy', 'no_answer', 'failed', 'opted_out')),
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz NOT NULL,
    duration_s       integer NOT NULL DEFAULT 0,
    local_hour       smallint,
    ingested_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- Each poke ingests only what arrived since the last one.
CREATE INDEX call_records_uningested_idx ON call_records (campaign_id, id) WHERE ingested_at IS NULL;
CREATE INDEX call_records_campaign_idx ON call_records (campaign_id);

CREATE TABLE campaign_progress (
    id               bigserial PRIMARY KEY,
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    run_id           text NOT NULL,
    polled_at        timestamptz NOT NULL DEFAULT now(),
    counts           jsonb NOT NULL,
    dispatched       integer NOT NULL DEFAULT 0,
    ingested         integer NOT NULL DEFAULT 0
);
CREATE INDEX campaign_progress_latest_idx ON campaign_progress (campaign_id, polled_at DESC);

CREATE TABLE campaign_reports (
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    run_id           text NOT NULL,
    outcome          text NOT NULL,
    report           jsonb NOT NULL,
    s3_uri           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, run_id)
);
