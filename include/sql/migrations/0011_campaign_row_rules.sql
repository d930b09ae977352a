-- A campaign row is refused at the door when it could never become a DAG, and a row the
-- catalog cannot build carries the reason (catalog_error) for operators and the Campaigns page.
-- The authority at run time is include/campaigns/campaign_row.py; these checks refuse what the
-- database can judge. NOT VALID: rows written before this migration are not rechecked here
-- (the catalog refuses them one by one), every later insert or update is.

ALTER TABLE campaigns
    ADD COLUMN catalog_error    text,
    ADD COLUMN catalog_error_at timestamptz;

CREATE FUNCTION campaign_tags_bounded(tags text[]) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(bool_and(length(t) <= 100), true) FROM unnest(tags) AS t $$;

-- Years 1..9999: what a Python datetime can hold. Lengths: what Airflow's dag, dag_tag and
-- dag_owner_attributes columns hold (owner 500, tag 100), and our own bounds on the rest.
ALTER TABLE campaigns
    ADD CONSTRAINT campaigns_dates_finite CHECK (
        isfinite(start_at) AND isfinite(end_at)
        AND start_at >= '0001-01-01 00:00:00+00' AND start_at < '10000-01-01 00:00:00+00'
        AND end_at >= '0001-01-01 00:00:00+00' AND end_at < '10000-01-01 00:00:00+00') NOT VALID,
    ADD CONSTRAINT campaigns_text_bounded CHECK (
        length(name) <= 200 AND length(owner) BETWEEN 1 AND 500 AND length(timezone) <= 255
        AND (schedule IS NULL OR length(schedule) <= 255) AND campaign_tags_bounded(tags)) NOT VALID;

-- A zone PostgreSQL does not know is refused here; Python's zone list decides at run time, so a
-- zone known here but not to Python is still refused by the catalog with its reason.
CREATE FUNCTION campaigns_check_timezone() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF length(NEW.timezone) > 255
       OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.timezone) THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = format('timezone %L is not an IANA time zone', left(NEW.timezone, 60)),
            CONSTRAINT = 'campaigns_timezone_known';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER campaigns_timezone_known_insert BEFORE INSERT ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaigns_check_timezone();
CREATE TRIGGER campaigns_timezone_known_update BEFORE UPDATE OF timezone ON campaigns
    FOR EACH ROW WHEN (NEW.timezone IS DISTINCT FROM OLD.timezone) EXECUTE FUNCTION campaigns_check_timezone();
