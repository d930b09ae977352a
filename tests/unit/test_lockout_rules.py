"""Lockouts after an outcome and the abandonment-rate limit, as rules data: the loader's shape,
and the rule each computes, written from the policies (Ofcom; 16 CFR 310.4(b)(4)) not the code."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.campaigns.calling_window import LockoutRule, abandon_limit, lockout_until
from include.campaigns.rules import ENTRIES, RulesError, load_rules
from tests.unit.test_calling_rules import _entry, _write

SOURCE = {"citation": "Ofcom persistent misuse statement", "url": "https://example.org/ofcom"}
ZONES = ["Europe/London", "America/New_York", "America/Chicago", "Etc/GMT-14", "Etc/GMT+12"]
instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(timezone.utc)
)


def test_every_lockout_and_rate_limit_in_the_data_has_a_source_with_a_link():
    for entry in ENTRIES:
        for lock in entry.lockouts.values():
            assert lock.source.url.startswith("https://") and (lock.verified or lock.note)
        if entry.abandon_rate:
            assert entry.abandon_rate.source.url.startswith("https://")


@pytest.mark.parametrize(
    "bad, named",
    [
        ({"lockouts": {"busy": {"hours": 1, "source": SOURCE, "verified": True}}}, "busy"),
        ({"lockouts": {"abandoned": {"source": SOURCE, "verified": True}}}, "hours or rest_of_local_day"),
        ({"lockouts": {"abandoned": {"hours": 72, "verified": True}}}, "source"),
        ({"lockouts": {"abandoned": {"hours": 72, "source": SOURCE, "verified": False}}}, "note"),
        ({"lockouts": {"abandoned": {"hours": 72, "days": 3, "source": SOURCE, "verified": True}}}, "days"),
        ({"lockouts": {"abandoned": {"hours": -1, "source": SOURCE, "verified": True}}}, "hours"),
        (
            {
                "abandon_rate": {
                    "max_rate": 3,
                    "window_days": 30,
                    "per": "campaign",
                    "counts": "x",
                    "source": SOURCE,
                    "verified": True,
                }
            },
            "max_rate",
        ),
        (
            {
                "abandon_rate": {
                    "max_rate": 0.03,
                    "window_days": 30,
                    "per": "day",
                    "counts": "x",
                    "source": SOURCE,
                    "verified": True,
                }
            },
            "per",
        ),
    ],
)
def test_the_loader_refuses_a_malformed_lockout_or_rate_limit(tmp_path, bad, named):
    _write(tmp_path, "US", [_entry(**bad)])
    with pytest.raises(RulesError) as raised:
        load_rules(tmp_path)
    assert named in str(raised.value)


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(["US-NY", "US-FL+US-GA", "GB", "CA-ON"]), st.sampled_from(ZONES))
def test_no_redial_for_72_hours_after_an_abandoned_call_anywhere(at, jurisdiction, zone):
    assert lockout_until(zone, jurisdiction, "abandoned", at) >= at + timedelta(hours=72)


@settings(max_examples=200, deadline=None)
@given(instants, st.sampled_from(ZONES))
def test_no_redial_the_same_local_day_after_a_machine_on_a_uk_number(at, zone):
    local = at.astimezone(ZoneInfo(zone))
    next_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=ZoneInfo(zone))
    until = lockout_until(zone, "GB", "machine", at)
    assert until >= next_day
    assert until.astimezone(ZoneInfo(zone)).date() == local.date() + timedelta(days=1)


def test_a_machine_on_a_us_number_has_no_lockout_of_its_own():
    assert (
        lockout_until("America/New_York", "US-NY", "machine", datetime(2026, 11, 30, 15, tzinfo=timezone.utc)) is None
    )


@settings(max_examples=200, deadline=None)
@given(
    instants,
    st.sampled_from(["US-NY", "GB"]),
    st.sampled_from(ZONES),
    st.sampled_from(["abandoned", "machine"]),
    st.integers(0, 24 * 366),
    st.booleans(),
)
def test_a_campaign_lockout_is_stricter_never_looser(at, jurisdiction, zone, outcome, hours, rest):
    law = lockout_until(zone, jurisdiction, outcome, at)
    own = LockoutRule(hours, rest)
    both = lockout_until(zone, jurisdiction, outcome, at, own)
    if law is not None:
        assert both >= law
    if hours:
        assert both >= at + timedelta(hours=hours)


def test_the_abandonment_limit_is_3_percent_over_30_days_per_campaign_from_its_source():
    limit = abandon_limit(["US-NY"], date(2026, 11, 30))
    assert (limit.max_rate, limit.window_days) == (0.03, 30)
    assert "310.4(b)(4)(i)" in limit.citation
    # The product's floor holds wherever no law sets a limit.
    assert abandon_limit(["GB"], date(2026, 11, 30)).max_rate == 0.03
