"""End to end with dag.test(): contacts under Texas, Washington, Florida-number-with-Georgia-
address, New York, Maine, UK and Canadian rules, each in zones whose local clock sits an hour
either side of every edge of those rules. The run must dial exactly the contacts the statutes
allow now.

The expectation comes from the statute-written oracle of the unit tests, not from the code.
"""

from __future__ import annotations

import random
import time as clock
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dev.seed import add_contacts, create_campaign, phone_numbers
from include.campaigns.phones import resolve
from tests.helpers import zone_at_local_hour
from tests.integration.test_end_to_end import campaign_dag
from tests.unit.test_calling_window import law_hours

pytestmark = pytest.mark.integration

# (number prefix, digits after it, address state, the jurisdiction that must result)
PLACES = [
    ("+1512", 7, None, "US-TX"),
    ("+1206", 7, None, "US-WA"),
    ("+1305", 7, "GA", "US-FL+US-GA"),
    ("+4420", 8, None, "GB"),
    ("+1416", 7, None, "CA"),
    # N.Y. Gen. Bus. Law 399-z(2): 08:00-21:00, not the 09:00-20:00 once guessed from its neighbours.
    ("+1212", 7, None, "US-NY"),
    # 10 M.R.S. 1498(3): weekdays 09:00-17:00 only.
    ("+1207", 7, None, "US-ME"),
]
# Every hour on either side of an edge of those rules: 08, 09, 10, 12, 17, 18, 20, 21.
LOCAL_HOURS = [7, 8, 9, 10, 11, 12, 16, 17, 18, 19, 20, 21]


def _away_from_the_hour() -> datetime:
    """Every edge is on the hour: keep the run (about a minute) inside one clock hour."""
    now = datetime.now(timezone.utc)
    to_the_hour = 3600 - (now.minute * 60 + now.second)
    if to_the_hour < 90:
        clock.sleep(to_the_hour + 1)
    return datetime.now(timezone.utc)


@pytest.fixture
def fresh_metadata_pool():
    """Return this run's metadata-database connections when done: later tests restart PostgreSQL,
    and a pooled connection from before a restart fails the next DAG run in this process."""
    yield
    from airflow import settings

    settings.Session.remove()
    settings.engine.dispose()


def test_a_run_dials_exactly_the_contacts_each_jurisdictions_rules_allow_at_its_edges(
    db, redis_client, dial_queue, topic_inbox, dialer, sqs, fresh_metadata_pool
):
    now = _away_from_the_hour()
    rng = random.Random(12)
    contacts, expected = [], set()
    for prefix, digits, region, jurisdiction in PLACES:
        for hour, phone in zip(LOCAL_HOURS, phone_numbers(prefix, digits, len(LOCAL_HOURS), rng)):
            zone = zone_at_local_hour(hour, now)
            assert resolve(phone, timezone=zone, region=region).jurisdiction == jurisdiction
            contacts.append({"phone": phone, "timezone": zone, "region": region})
            wall = now.astimezone(ZoneInfo(zone))
            hours = law_hours(jurisdiction, wall.date())
            if hours is not None and hours[0] <= wall.time().replace(tzinfo=None) < hours[1]:
                expected.add(phone)
    assert expected and len(expected) < len(contacts), "the instant puts contacts on both sides of the rules"

    campaign_id = create_campaign(
        db,
        "rules_e2e",
        poke_interval_s=1,
        max_in_flight=100,
        start_at=now - timedelta(minutes=5),
        end_at=now + timedelta(seconds=45),
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "max_attempts": 1,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, contacts)
    simulator = dialer(dial_queue, {"answered": 1.0})

    run = campaign_dag("campaign_rules_e2e").test()

    assert run.state == "success"
    dialed = {task["phone"] for task in simulator.received}
    by_phone = {c["phone"]: c for c in contacts}
    assert dialed == expected, {
        "dialed against the rules": sorted((by_phone[p]["timezone"], p[-4:]) for p in dialed - expected),
        "allowed but not dialed": sorted((by_phone[p]["timezone"], p[-4:]) for p in expected - dialed),
    }
