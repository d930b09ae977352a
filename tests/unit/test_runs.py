"""When a run may dial: its end, and whether its interval is already over."""

from datetime import datetime, timedelta, timezone

from include.campaigns.runs import liveness, run_end

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)
ONE_OFF = {"schedule": None, "timezone": "UTC", "end_at": NOW + timedelta(days=2)}
DAILY_9_NY = {"schedule": "0 9 * * *", "timezone": "America/New_York", "end_at": NOW + timedelta(days=30)}


def test_a_one_off_run_lasts_until_the_campaign_ends():
    assert run_end(None, "UTC", ONE_OFF["end_at"], NOW) == ONE_OFF["end_at"]


def test_a_recurring_run_lasts_until_its_next_fire_time_in_the_campaigns_zone():
    run_after = datetime(2026, 11, 28, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York
    assert run_end("0 9 * * *", "America/New_York", DAILY_9_NY["end_at"], run_after) == datetime(
        2026, 11, 29, 14, 0, tzinfo=timezone.utc)


def test_a_recurring_run_never_outlasts_the_campaign():
    end = NOW + timedelta(hours=3)
    assert run_end("0 9 * * *", "America/New_York", end, NOW) == end


def test_a_current_run_is_live():
    assert liveness(ONE_OFF, run_type="manual", run_after=NOW, now=NOW)[0] is True


def test_a_backfill_never_dials():
    live, reason, _ = liveness(ONE_OFF, run_type="backfill", run_after=NOW, now=NOW)
    assert live is False and "backfill" in reason


def test_a_run_started_after_its_interval_ended_only_re_reports():
    three_days_ago = NOW - timedelta(days=3)
    live, reason, end = liveness(DAILY_9_NY, run_type="scheduled", run_after=three_days_ago, now=NOW)
    assert live is False and end < NOW and "regenerates the report" in reason
