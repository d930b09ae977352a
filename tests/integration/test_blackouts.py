"""Declared blackouts through the real dispatch: a row in calling_blackouts closes every contact
whose jurisdiction it covers, from the next dispatch on, with no restart."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.blackouts import current_blackouts, declare
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration

NEW_YORK, WASHINGTON = "212", "206"


def run_context(campaign_id: int) -> RunContext:
    now = datetime.now(timezone.utc)
    return RunContext(
        campaign_id=campaign_id,
        run_id="run-1",
        run_start=now - timedelta(minutes=1),
        run_end=now + timedelta(days=1),
        live=True,
    )


@pytest.fixture
def campaign(db, dial_queue):
    """New York and Washington numbers, one New York number with a Washington address, all in a
    zone where it is early afternoon (inside every floor, whatever the day)."""
    zone = open_zone()
    ny, ny_with_wa_address = us_numbers(2, seed=11, area=NEW_YORK)
    [wa] = us_numbers(1, seed=12, area=WASHINGTON)
    config = {
        "dial_queue": dial_queue,
        "skip_public_holidays": False,
        "calling_window": {"start": "08:00", "end": "21:00"},
    }
    campaign_id = create_campaign(db, "blackouts", config=config)
    add_contacts(
        db,
        campaign_id,
        [
            {"phone": ny, "timezone": zone},
            {"phone": wa, "timezone": zone},
            {"phone": ny_with_wa_address, "timezone": zone, "region": "WA"},
        ],
    )
    return load_campaign(db, campaign_id), {"ny": ny, "wa": wa, "ny_wa": ny_with_wa_address}


def sent(sqs, queue) -> dict[str, dict]:
    return {t["phone"]: t for t in (json.loads(m["Body"]) for m in drain(sqs, queue))}


def test_a_declared_emergency_blackout_closes_its_jurisdiction_at_once(db, redis_client, sqs, dial_queue, campaign):
    campaign, phones = campaign
    now = datetime.now(timezone.utc)
    declare(db, "US-WA", now - timedelta(minutes=5), now + timedelta(hours=6), "State of emergency (test)")

    dispatch(db, campaign, run_context(campaign.id))

    assert set(sent(sqs, dial_queue)) == {phones["ny"]}, (
        "a Washington number, and a New York number with a Washington address, are both blacked out"
    )


def test_a_blackout_on_a_country_covers_every_state_in_it(db, redis_client, sqs, dial_queue, campaign):
    campaign, _ = campaign
    now = datetime.now(timezone.utc)
    declare(db, "US", now - timedelta(minutes=5), now + timedelta(hours=1), "National day of mourning (test)")

    result = dispatch(db, campaign, run_context(campaign.id))

    assert sent(sqs, dial_queue) == {} and result.open_window_keys == 0


def test_a_blackout_ahead_brings_the_dial_tasks_deadline_forward_to_its_start(
    db, redis_client, sqs, dial_queue, campaign
):
    campaign, phones = campaign
    starts = (datetime.now(timezone.utc) + timedelta(minutes=30)).replace(microsecond=0)
    declare(db, "US-WA", starts, starts + timedelta(hours=6), "Emergency declared from this afternoon (test)")

    dispatch(db, campaign, run_context(campaign.id))

    tasks = sent(sqs, dial_queue)
    assert set(tasks) == set(phones.values())
    assert datetime.fromisoformat(tasks[phones["wa"]]["not_after"]) == starts
    assert datetime.fromisoformat(tasks[phones["ny_wa"]]["not_after"]) == starts
    assert datetime.fromisoformat(tasks[phones["ny"]]["not_after"]) > starts


def test_an_ended_blackout_is_not_read(db):
    now = datetime.now(timezone.utc)
    declare(db, "US-LA", now - timedelta(days=3), now - timedelta(days=1), "Hurricane (over)")
    declare(db, "US-LA", now + timedelta(days=1), now + timedelta(days=2), "Hurricane (forecast)")
    assert [(b.jurisdiction, b.reason) for b in current_blackouts(db, now)] == [("US-LA", "Hurricane (forecast)")]


@pytest.mark.parametrize(
    "jurisdiction, starts, ends, reason", [("Louisiana", 0, 1, "x"), ("US-LA", 1, 0, "x"), ("US-LA", 0, 1, "  ")]
)
def test_a_malformed_blackout_is_refused(db, jurisdiction, starts, ends, reason):
    now = datetime.now(timezone.utc)
    with pytest.raises(ValueError):
        declare(db, jurisdiction, now + timedelta(hours=starts), now + timedelta(hours=ends), reason)
