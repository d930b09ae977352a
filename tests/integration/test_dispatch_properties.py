"""Property tests of dispatch through the real SQL path: random contacts, zones, instants
(DST edges included), calling windows, blacklists and caps.

The oracle is independent of the claim statement: it re-derives each contact's zones and
jurisdiction and applies the rules one by one. Dispatch must send exactly the contacts the
oracle finds eligible: nothing outside a window, blacklisted or over a cap, and nobody lost.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dev.seed import add_blacklist, add_contacts, create_campaign, phone_numbers
from include.campaigns.calling_window import DAYS, legal_rule
from include.campaigns.campaign import load_campaign
from include.campaigns.config import parse_config
from include.campaigns.dispatch import dispatch
from include.campaigns.phones import E164_SHAPE, InvalidPhone, resolve
from include.campaigns.runs import RunContext
from tests.integration.conftest import CAMPAIGN_TABLES, drain

pytestmark = pytest.mark.integration

_rng = random.Random(99)
POOL = [
    p
    for prefix, digits in [
        ("+1305", 7),
        ("+1205", 7),
        ("+1504", 7),
        ("+1601", 7),
        ("+1212", 7),
        ("+1213", 7),
        ("+4420", 8),
        ("+813", 8),
        ("+6141", 7),
    ]
    for p in phone_numbers(prefix, digits, 3, _rng)
] + ["+1555", "+99912345678"]
ZONES = [
    None,
    None,
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Not/AZone",
]
# UTC instants of DST changes in 2026 (New York, London, Sydney, Lord Howe, Auckland)
DST_EDGES = [
    datetime(2026, 3, 8, 7, tzinfo=timezone.utc),
    datetime(2026, 11, 1, 6, tzinfo=timezone.utc),
    datetime(2026, 3, 29, 1, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 1, tzinfo=timezone.utc),
    datetime(2026, 4, 4, 16, tzinfo=timezone.utc),
    datetime(2026, 10, 3, 16, tzinfo=timezone.utc),
    datetime(2026, 4, 4, 15, tzinfo=timezone.utc),
    datetime(2026, 4, 4, 14, tzinfo=timezone.utc),
]

instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc)),
    st.builds(
        lambda edge, minutes: edge + timedelta(minutes=minutes),
        st.sampled_from(DST_EDGES),
        st.integers(-24 * 60, 24 * 60),
    ),
)
random_windows = (
    st.tuples(st.integers(0, 22), st.integers(1, 23), st.sets(st.sampled_from(DAYS), min_size=1))
    .filter(lambda w: w[1] > w[0])
    .map(lambda w: {"start": f"{w[0]:02d}:00", "end": f"{w[1]:02d}:30", "days": sorted(w[2])})
)
# Half the windows are as wide as config allows, so the legal floor is what decides.
windows = st.one_of(st.just({"start": "00:00", "end": "23:30", "days": list(DAYS)}), random_windows)
contacts = st.lists(
    st.tuples(st.sampled_from(POOL), st.sampled_from(ZONES), st.sampled_from([None, None, "FL", "ms"])),
    min_size=1,
    max_size=12,
    unique_by=lambda c: c[0],
)


def oracle_open(phone, zone, region, policy_config, at) -> bool:
    """Re-derive the window decision rule by rule, without the window-key machinery."""
    try:
        info = resolve(phone, timezone=zone, region=region, fallback_timezone="UTC")
    except InvalidPhone:
        return False
    config = parse_config(policy_config)
    for zone_name in info.timezones:
        local = at.astimezone(ZoneInfo(zone_name))
        rule = legal_rule(info.jurisdiction, local.date())  # the law in force that local day
        hours = rule.hours_on(local.weekday())
        if local.weekday() not in config.policy.window.days or hours is None:
            return False
        start = max(config.policy.window.start, hours[0])
        end = min(config.policy.window.end, hours[1])
        if not (start <= local.time().replace(tzinfo=None) < end):
            return False
        import holidays

        # The law's holiday calendars always; every applicable jurisdiction's when the campaign skips holidays.
        calendars = set(rule.holiday_calendars)
        if config.policy.skip_public_holidays:
            calendars |= set(info.jurisdiction.split("+"))
        for code in calendars:
            country, _, subdiv = code.partition("-")
            try:
                calendar = holidays.country_holidays(country, subdiv=subdiv or None, years=local.year)
            except NotImplementedError:
                try:
                    calendar = holidays.country_holidays(country, years=local.year)
                except NotImplementedError:
                    calendar = {}
            if local.date() in calendar:
                return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=contacts,
    at=instants,
    window=windows,
    skip_holidays=st.booleans(),
    pg_blocked=st.sets(st.integers(0, 11), max_size=4),
    redis_blocked=st.sets(st.integers(0, 11), max_size=3),
    history=st.lists(st.integers(0, 11), max_size=6),
    cap=st.one_of(st.none(), st.integers(1, 3)),
)
def test_dispatch_sends_exactly_the_eligible_contacts(
    db, redis_client, sqs, dial_queue, people, at, window, skip_holidays, pg_blocked, redis_blocked, history, cap
):
    db.execute("TRUNCATE " + ", ".join(CAMPAIGN_TABLES) + " RESTART IDENTITY CASCADE")
    redis_client.delete("campaigns:blacklist")
    config = {
        "dial_queue": dial_queue,
        "calling_window": window,
        "skip_public_holidays": skip_holidays,
        "max_attempts_per_24h": cap,
    }
    campaign_id = create_campaign(db, "prop", config=config, max_in_flight=100)
    add_contacts(db, campaign_id, [{"phone": p, "timezone": z, "region": r} for p, z, r in people])
    phones = [p for p, _, _ in people]
    # The blacklist holds E.164 only (its CHECK constraint): a number too short to be one is never listed.
    pg = {phones[i] for i in pg_blocked if i < len(phones) and E164_SHAPE.fullmatch(phones[i])}
    rd = {phones[i] for i in redis_blocked if i < len(phones)}
    add_blacklist(db, sorted(pg))
    if rd:
        redis_client.sadd("campaigns:blacklist", *rd)
    # Earlier dial tasks of other campaigns, inside the rolling 24 h, count against the caps.
    past = Counter(phones[i] for i in history if i < len(phones))
    if past:
        other = create_campaign(db, "history", config={})
        add_contacts(db, other, [{"phone": p} for p in past])
        for phone, n in past.items():
            for k in range(n):
                db.execute(
                    "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, "
                    "not_after, status, claimed_at) SELECT %s, %s, id, phone, 1, 'old', now(), 'completed', "
                    "now() - interval '1 hour' FROM contacts WHERE campaign_id = %s AND phone = %s",
                    (f"h-{phone}-{k}", other, other, phone),
                )

    run = RunContext(campaign_id=campaign_id, run_id="prop", run_start=at, run_end=at + timedelta(days=2), live=True)
    dispatch(db, load_campaign(db, campaign_id), run, now=at)
    sent = [json.loads(m["Body"])["phone"] for m in drain(sqs, dial_queue)]

    expected = set()
    for phone, zone, region in people:
        if phone in pg or phone in rd or not oracle_open(phone, zone, region, config, at):
            continue
        jurisdiction = resolve(phone, timezone=zone, region=region, fallback_timezone="UTC").jurisdiction
        limits = [c for c in (cap, legal_rule(jurisdiction, at.date()).max_attempts_24h) if c is not None]
        if limits and past.get(phone, 0) >= min(limits):
            continue
        expected.add(phone)
    assert sorted(sent) == sorted(expected)
    event(f"sent {'some' if sent else 'none'}")
