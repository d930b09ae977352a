"""Each campaign rule that validation checks without services, one test per rule."""

from datetime import datetime, timedelta, timezone

import pytest

from include.campaigns.validation import campaign_problems

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def campaign(**overrides) -> dict:
    row = {"name": "Renewals", "campaign_type": "outbound_ivr", "status": "scheduled", "timezone": "America/Chicago",
           "start_at": NOW - timedelta(days=1), "end_at": NOW + timedelta(days=7), "config": {}}
    row.update(overrides)
    return row


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
        f"status '{status}' does not allow a run (needs one of scheduled, active, paused)"]


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
        "calling window 21:00-23:00 is entirely outside the legal hours 08:00-21:00"]


def test_ivr_flow_problems_are_reported():
    flow = {"entry": "a", "nodes": {"a": {"next": ["b"]}, "b": {"next": ["a"]}}}
    assert problems(config={"ivr_flow": flow}) == ["ivr_flow has no terminal node"]


def test_every_problem_is_collected_at_once():
    found = problems(name="", campaign_type="x", status="draft", timezone="Nowhere/City",
                     start_at=NOW, end_at=NOW - timedelta(days=1),
                     config={"calling_window": {"start": "22:00", "end": "23:00"}})
    assert len(found) == 6
