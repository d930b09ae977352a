"""Lockouts after an outcome: no redial of an abandoned call for 72 hours; after an answering
machine, none the same local day for a UK number; a campaign's own lockout only adds to the law's."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import ingest
from tests.helpers import open_zone, us_numbers
from tests.integration.test_results_ingest import contact, record, run_context, task_of

pytestmark = pytest.mark.integration

UK_NUMBER = "+442079460123"


def called_once(db, dial_queue, phone: str, outcome: str, **config) -> tuple[dict, datetime, str]:
    """One contact dialed once and its result ingested; return the contact, the ingest's instant, its zone."""
    zone = open_zone()
    campaign_id = create_campaign(db, f"lockout_{outcome}", config={
        "dial_queue": dial_queue, "skip_public_holidays": False,
        "calling_window": {"start": "00:00", "end": "23:59"}, "max_attempts": 5, **config})
    add_contacts(db, campaign_id, [{"phone": phone, "timezone": zone}])
    campaign = load_campaign(db, campaign_id)
    assert dispatch(db, campaign, run_context(campaign_id)).sent == 1
    task = task_of(db, campaign_id)
    record(db, task, outcome, campaign_id=campaign_id)
    now = datetime.now(timezone.utc)
    assert ingest(db, campaign, now)[0] == 1
    return contact(db, task["contact_id"]), now, zone


def test_an_abandoned_call_is_not_redialed_for_72_hours(db, redis_client, dial_queue):
    state, now, _ = called_once(db, dial_queue, us_numbers(1, seed=301)[0], "abandoned",
                                retry_delays_s={"abandoned": 0})
    assert state["status"] == "failed" and state["last_outcome"] == "abandoned"
    assert state["next_attempt_at"] >= now + timedelta(hours=72)


def test_a_machine_answered_uk_number_is_not_redialed_the_same_local_day(db, redis_client, dial_queue):
    state, now, zone = called_once(db, dial_queue, UK_NUMBER, "machine", retry_delays_s={"machine": 0})
    local = now.astimezone(ZoneInfo(zone))
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    assert state["status"] == "failed"
    assert state["next_attempt_at"] >= next_midnight


def test_a_machine_answered_us_number_has_no_same_day_lockout(db, redis_client, dial_queue):
    state, now, _ = called_once(db, dial_queue, us_numbers(1, seed=302)[0], "machine",
                                retry_delays_s={"machine": 0})
    assert state["next_attempt_at"] < now + timedelta(minutes=5)


def test_a_campaign_lockout_is_stricter_than_the_law(db, redis_client, dial_queue):
    state, now, _ = called_once(db, dial_queue, us_numbers(1, seed=303)[0], "abandoned",
                                retry_delays_s={"abandoned": 0}, lockouts={"abandoned": {"hours": 96}})
    assert state["next_attempt_at"] >= now + timedelta(hours=96)


def test_a_campaign_lockout_is_never_looser_than_the_law(db, redis_client, dial_queue):
    state, now, _ = called_once(db, dial_queue, us_numbers(1, seed=304)[0], "abandoned",
                                retry_delays_s={"abandoned": 0}, lockouts={"abandoned": {"hours": 1}})
    assert state["next_attempt_at"] >= now + timedelta(hours=72)


def test_a_campaign_can_lock_out_machine_answered_us_numbers_for_the_day(db, redis_client, dial_queue):
    state, now, zone = called_once(db, dial_queue, us_numbers(1, seed=305)[0], "machine",
                                   retry_delays_s={"machine": 0}, lockouts={"machine": {"rest_of_local_day": True}})
    local = now.astimezone(ZoneInfo(zone))
    assert state["next_attempt_at"] >= datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
