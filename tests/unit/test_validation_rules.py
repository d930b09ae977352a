"""Each campaign rule that validation checks without services, one test per rule."""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from include.campaigns.campaign import Campaign
from include.campaigns.validation import campaign_problems

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def row(**overrides) -> dict:
    """A campaigns row as stored, before it is a Campaign."""
    found = {
        "id": 7,
        "slug": "renewals",
        "name": "Renewals",
        "campaign_type": "outbound_ivr",
        "status": "scheduled",
        "timezone": "America/Chicago",
        "schedule": None,
        "owner": "campaign-ops",
        "tags": [],
        "poke_interval_s": 60,
        "max_in_flight": 500,
        "start_at": NOW - timedelta(days=1),
        "end_at": NOW + timedelta(days=7),
        "config": {},
    }
    found.update(overrides)
    return found


def campaign(**overrides) -> Campaign:
    return Campaign.from_row(row(**overrides))


def problems(live=True, **overrides) -> list[str]:
    return campaign_problems(campaign(**overrides), live=live, now=NOW)[0]


def test_a_sound_campaign_has_no_problems():
    assert problems() == []


@pytest.mark.parametrize("name", ["", "   ", None])
def test_name_is_required(name):
    assert problems(name=name) == ["name is empty"]


def test_type_must_be_known():
    assert problems(campaign_type="robocall")[0].startswith("type 'robocall' is not one of")


@pytest.mark.parametrize("status", ["draft", "completed", "cancelled", "failed", "archived"])
def test_status_must_allow_a_run(status):
    assert problems(status=status) == [
        f"status '{status}' does not allow a run (needs one of scheduled, active, paused)"
    ]


def test_a_report_only_run_of_a_finished_campaign_is_not_blocked_by_its_status_or_dates():
    assert problems(live=False, status="completed", end_at=NOW - timedelta(hours=1)) == []


def test_start_must_come_before_end():
    assert problems(start_at=NOW, end_at=NOW) == ["start_at is not before end_at"]


def test_end_must_not_be_past_for_a_live_run():
    assert problems(end_at=NOW - timedelta(minutes=1))[0].startswith("end_at ")


def test_timezone_must_exist():
    assert problems(timezone="Mars/Olympus") == ["timezone 'Mars/Olympus' is not an IANA time zone"]


def test_config_problems_are_all_reported():
    found = problems(config={"max_attempts": 0, "calling_window": {"start": "25:00"}, "colour": "red"})
    assert len(found) == 3


def test_calling_window_entirely_outside_legal_hours_is_a_problem():
    assert problems(config={"calling_window": {"start": "21:00", "end": "23:00"}}) == [
        "calling window 21:00-23:00 is entirely outside the legal hours 08:00-21:00"
    ]


def test_ivr_flow_problems_are_reported():
    flow = {"entry": "a", "nodes": {"a": {"next": ["b"]}, "b": {"next": ["a"]}}}
    assert problems(config={"ivr_flow": flow}) == ["ivr_flow has no terminal node"]


def test_every_problem_is_collected_at_once():
    found = problems(
        name="",
        campaign_type="x",
        status="draft",
        timezone="Nowhere/City",
        start_at=NOW,
        end_at=NOW - timedelta(days=1),
        config={"calling_window": {"start": "22:00", "end": "23:00"}},
    )
    assert len(found) == 6


# --------------------------------------------------------------------------------------------
# The row rules shared with the catalog (include/campaigns/campaign_row.py)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule, reason",
    [
        ("not a cron", "is not a 5-field cron expression"),
        ("@once", "is not a 5-field cron expression"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 * * * *", "is not a 5-field cron expression"),
        ("61 * * * *", "is not a valid cron"),
        ("", "is not a cron expression"),
    ],
)
def test_a_schedule_must_be_a_five_field_cron_that_fires(schedule, reason):
    [problem] = problems(schedule=schedule)
    assert problem.startswith("schedule ") and reason in problem


@pytest.mark.parametrize("schedule", ["0 10 * * 1-5", "*/15 8-20 * * *", "@daily"])
def test_a_sound_schedule_has_no_problem(schedule):
    assert problems(schedule=schedule) == []


def test_a_schedule_whose_description_overflows_airflows_column_is_refused():
    every_minute_listed = ",".join(str(m) for m in range(60))
    every_hour_listed = ",".join(str(h) for h in range(24))
    schedule = f"{every_minute_listed} {every_hour_listed} 1,15 1,7,9 1,3"
    assert len(schedule) <= 255, "valid and short enough for the column: only its description overflows"
    [problem] = problems(schedule=schedule)
    assert "more than the 1000 Airflow stores" in problem


@pytest.mark.parametrize(
    "zone",
    [
        "Europe",
        "America",
        "US",
        "Mars/Olympus",
        "x" * 300,
        "../../etc/passwd",
        "America/",
        "/usr/share/zoneinfo/UTC",
        "",
        None,
        42,
    ],
)
def test_a_zone_that_names_a_folder_or_is_overlong_is_refused_not_a_crash(zone):
    [problem] = problems(timezone=zone)
    assert problem.startswith("timezone ") and problem.endswith("is not an IANA time zone")


def test_the_zone_check_is_membership_in_pythons_zone_list():
    import zoneinfo

    from include.campaigns.campaign_row import known_timezone
    from include.campaigns.phones import valid_timezone

    for zone in sorted(zoneinfo.available_timezones())[::25]:
        assert known_timezone(zone) and valid_timezone(zone)
    for zone in ["Europe", "America", "US", "x" * 300]:
        assert not known_timezone(zone) and not valid_timezone(zone)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("owner", "o" * 501, "owner is longer than the 500 characters Airflow stores"),
        ("owner", "", "owner is empty"),
        ("name", "n" * 201, "name is longer than 200 characters"),
        ("tags", ["t" * 101], "a tag is longer than the 100 characters Airflow stores"),
        ("poke_interval_s", 0, "poke_interval_s must be an integer from 1 to 3600"),
    ],
)
def test_text_longer_than_airflow_stores_is_refused(field, value, words):
    [problem] = problems(**{field: value})
    assert problem.startswith(words)


@pytest.mark.parametrize(
    "value", ["infinity", "-infinity", float("inf"), "10000-01-01T00:00:00+00:00", None, "2026-01-01T00:00:00"]
)
def test_a_date_that_is_not_a_finite_timestamp_in_years_1_to_9999_is_refused(value):
    from include.campaigns.campaign_row import row_problems

    found = row_problems(row(end_at=value))
    assert len(found) == 1 and found[0].startswith("end_at "), found


def test_a_dial_task_too_large_for_one_queue_message_is_refused():
    big_flow: dict[str, Any] = {
        "entry": "n0",
        "nodes": {f"n{i}": {"audio": f"prompts/{'x' * 200}-{i}.wav", "next": [f"n{i + 1}"]} for i in range(1200)},
    }
    big_flow["nodes"]["n1200"] = {}
    found = problems(config={"ivr_flow": big_flow})
    assert any("over the 262144-byte queue message limit" in p for p in found), found


def test_a_dial_task_that_fits_one_queue_message_passes():
    flow: dict[str, Any] = {
        "entry": "n0",
        "nodes": {f"n{i}": {"audio": f"prompts/p{i}.wav", "next": [f"n{i + 1}"]} for i in range(100)},
    }
    flow["nodes"]["n100"] = {}
    assert problems(config={"ivr_flow": flow}) == []


def test_the_size_check_measures_what_the_dispatcher_sends():
    from include.campaigns.config import parse_config
    from include.campaigns.sender import dial_task_body
    from include.campaigns.validation import MAX_MESSAGE_BYTES, dial_task_size_problems

    flow = {"entry": "a", "nodes": {"a": {"audio": "k" * 1000, "next": []}}}
    config = parse_config({"ivr_flow": flow, "audio": ["k" * 1000] * 100})
    row = {"dial_attempt_id": "c7-1-1", "contact_id": 1, "phone": "+12125550123", "attempt": 1, "not_after": NOW}
    sent = len(dial_task_body(campaign(), config, row, "manual__x").encode())
    assert dial_task_size_problems(campaign(), config) == []
    assert sent < MAX_MESSAGE_BYTES


# --------------------------------------------------------------------------------------------
# Destinations: allow-lists held in Airflow Variables, own resources only by default
# --------------------------------------------------------------------------------------------

OWN = {
    "own_queue_url": lambda: "http://sqs.us-east-1.localhost:4566/000000000000/campaign-dial-tasks",
    "own_topic_arn": lambda: "arn:aws:sns:us-east-1:000000000000:campaign-events",
    "own_bucket": lambda: "campaign-reports",
}


def destination_problems(config: dict, monkeypatch=None, **variables):
    from include.campaigns.config import parse_config
    from include.campaigns.validation import destination_problems as check

    if monkeypatch is not None:
        for name, value in variables.items():
            monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", value)
    return check(parse_config(config), **OWN)


@pytest.mark.parametrize(
    "config",
    [
        {"dial_queue": "campaign-dial-tasks-eu"},
        {"dial_queue": "http://sqs.us-east-1.localhost:4566/000000000000/other-queue.fifo"},
        {"notification_topic": "arn:aws:sns:us-east-1:000000000000:ops-alerts"},
        {"audio": ["prompts/a.wav", "s3://campaign-reports/prompts/b.wav"]},
    ],
)
def test_by_default_only_the_stacks_own_queue_account_topic_account_and_bucket_are_allowed(config, monkeypatch):
    assert destination_problems(config, monkeypatch) == []


@pytest.mark.parametrize(
    "config, words",
    [
        ({"dial_queue": "https://sqs.us-east-1.amazonaws.com/999999999999/exfiltrate"}, "dial_queue"),
        ({"dial_queue": "not a queue/../x"}, "neither an SQS queue name nor a queue URL"),
        ({"notification_topic": "arn:aws:sns:us-east-1:999999999999:theirs"}, "notification_topic"),
        ({"notification_topic": "arn:aws:sns:eu-west-1:000000000000:campaign-events"}, "notification_topic"),
        ({"audio": ["s3://someone-elses-bucket/a.wav"]}, "audio 's3://someone-elses-bucket/a.wav'"),
    ],
)
def test_a_cross_account_or_foreign_destination_is_refused_by_default(config, words, monkeypatch):
    [problem] = destination_problems(config, monkeypatch)
    assert words in problem


def test_the_allow_list_variables_replace_the_defaults(monkeypatch):
    config = {
        "dial_queue": "https://sqs.eu-west-1.amazonaws.com/111111111111/dial",
        "notification_topic": "arn:aws:sns:eu-west-1:111111111111:ops",
        "audio": ["s3://shared-prompts/a.wav"],
    }
    assert len(destination_problems(config, monkeypatch)) == 3
    assert (
        destination_problems(
            config,
            monkeypatch,
            campaign_allowed_queue_prefixes='["https://sqs.eu-west-1.amazonaws.com/111111111111/"]',
            campaign_allowed_topic_prefixes="arn:aws:sns:eu-west-1:111111111111:",
            campaign_allowed_audio_buckets='["shared-prompts"]',
        )
        == []
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"timezone": "Mars/Olympus"},
        {"name": ""},
        {"tags": ["t" * 101]},
        {"end_at": NOW - timedelta(days=2)},
        {"schedule": "not a cron"},
    ],
)
def test_a_loaded_campaign_breaks_the_same_row_rules_as_its_row(overrides):
    from include.campaigns.campaign_row import row_problems

    loaded = campaign(**overrides)
    assert Campaign.from_row(loaded.as_row()) == loaded
    assert row_problems(loaded.as_row()) == row_problems(row(**overrides))
