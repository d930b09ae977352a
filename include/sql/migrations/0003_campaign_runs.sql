-- Whether a run may dial is decided once, by its first task, and kept for the rest of that run:
-- a fresh decision is taken after every clear (Airflow bumps clear_number), so rerunning an old
-- run decides again, at rerun time, and a run whose interval is over only re-reports.
CREATE TABLE campaign_runs (
    campaign_id      bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    run_id           text NOT NULL,
    clear_number     integer NOT NULL DEFAULT 0,
    live             boolean NOT NULL,
    not_live_reason  text,
    run_end          timestamptz NOT NULL,
    decided_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, run_id, clear_number)
);
