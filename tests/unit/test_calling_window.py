"""Calling windows as a specification: who may be dialed when, in the contact's local time.

The oracle in this file is written from the rules, not from the code: a contact is callable at
an instant when, on the local calendar day and wall clock of their zone, the day is one of the
campaign's days, it is not a Sunday where the law bans Sundays, not a blackout date, not a public
holiday (``holidays`` package) where the law bans holidays or the campaign skips them without an
override, and the wall time is inside both the campaign window and the legal floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.campaigns import calling_window as cw
from include.campaigns.calling_window import (
    CallingWindow,
    LegalRule,
    WindowPolicy,
    legal_rule,
    open_keys,
    split_key,
    window_key,
)

UTC = timezone.utc
SUNDAY = 6

ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/St_Johns",
    "America/Santiago", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
    "Africa/Casablanca", "Asia/Tehran", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo",
    "Australia/Lord_Howe", "Australia/Adelaide", "Pacific/Chatham", "Pacific/Kiritimati",
    "Etc/UTC",
]
DST_ZONES = [
    "America/New_York", "America/Chicago", "Europe/London", "Australia/Lord_Howe",
    "America/Santiago", "Asia/Tehran", "Pacific/Chatham", "America/St_Johns", "Africa/Casablanca",
]
JURISDICTIONS = ["US", "US-FL", "US-OK", "US-MD", "US-AL", "US-LA", "US-MS", "US-NY", "GB", "JP", "ZZ"]

FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2035, 12, 31)
HORIZON_DAYS = 14

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _calendar(jurisdiction: str):
    country, _, subdiv = jurisdiction.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError:  # "ZZ": no such country, no holidays
        return None


def is_public_holiday(jurisdiction: str, day: date) -> bool:
    calendar = _calendar(jurisdiction)
    return calendar is not None and day in calendar


def public_holidays(jurisdiction: str, year: int) -> list[date]:
    calendar = _calendar(jurisdiction)
    if calendar is None:
        return []
    calendar.get(date(year, 1, 1))  # populate the year
    return sorted(d for d in calendar if d.year == year)


def local(zone: str, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


def at_local(zone: str, day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def day_allowed(policy: WindowPolicy, jurisdiction: str, day: date) -> bool:
    rule = legal_rule(jurisdiction)
    if day.weekday() not in policy.window.days:
        return False
    if rule.no_sunday and day.weekday() == SUNDAY:
        return False
    if day in policy.blackout_dates:
        return False
    if is_public_holiday(jurisdiction, day):
        if rule.no_holidays:
            return False
        if policy.skip_public_holidays and day not in policy.holiday_overrides:
            return False
    return True


def effective_bounds(policy: WindowPolicy, jurisdiction: str) -> tuple[time, time]:
    rule = legal_rule(jurisdiction)
    return max(policy.window.start, rule.start), min(policy.window.end, rule.end)


def expected_open(policy: WindowPolicy, zone: str, jurisdiction: str, instant: datetime) -> bool:
    wall = local(zone, instant)
    rule = legal_rule(jurisdiction)
    clock = wall.time()
    return (day_allowed(policy, jurisdiction, wall.date())
            and policy.window.start <= clock < policy.window.end
            and rule.start <= clock < rule.end)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

def _transitions(zone: str) -> list[datetime]:
    """Every UTC instant in 2020-2035 at which ``zone`` changes its offset, to the second."""
    tz = ZoneInfo(zone)
    found = []
    t = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(2036, 1, 1, tzinfo=UTC)
    step = timedelta(hours=12)
    previous = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + step
        offset = nxt.astimezone(tz).utcoffset()
        if offset != previous:
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == previous:
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(microsecond=0))
        previous, t = offset, nxt
    return found


TRANSITIONS = [(zone, instant) for zone in DST_ZONES for instant in _transitions(zone)]
# DST transitions are at night; a window opens in the morning, so also look a day or two away.
SMALL_OFFSETS = st.integers(-3 * 3600, 3 * 3600).map(lambda s: timedelta(seconds=s))
DAY_OFFSETS = st.integers(-48 * 60, 48 * 60).map(lambda m: timedelta(minutes=m))

random_instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
random_days = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)


def _hhmm(minutes: int) -> time:
    return time(*divmod(minutes, 60))


@st.composite
def campaign_windows(draw) -> CallingWindow:
    kind = draw(st.sampled_from(["realistic", "arbitrary", "whole_day"]))
    if kind == "whole_day":
        start, end = 0, 23 * 60 + 59
    elif kind == "realistic":
        start = draw(st.integers(6 * 60, 11 * 60))
        end = draw(st.integers(16 * 60, 23 * 60))
    else:
        start = draw(st.integers(0, 23 * 60 + 58))
        end = draw(st.integers(start + 1, 23 * 60 + 59))
    days = draw(st.one_of(st.just(frozenset(range(7))),
                          st.frozensets(st.integers(0, 6), min_size=1)))
    return CallingWindow(_hhmm(start), _hhmm(end), days)


@st.composite
def zoned_instants(draw, jurisdiction: str, window: CallingWindow) -> tuple[str, datetime]:
    """A zone and an instant: anywhere, near a DST transition, on a holiday, or at a window edge."""
    kind = draw(st.sampled_from(["random", "near_dst", "near_dst_far", "holiday", "edge"]))
    if kind in ("near_dst", "near_dst_far"):
        zone, transition = draw(st.sampled_from(TRANSITIONS))
        return zone, transition + draw(SMALL_OFFSETS if kind == "near_dst" else DAY_OFFSETS)
    zone = draw(st.sampled_from(ZONES))
    if kind == "random":
        return zone, draw(random_instants)
    day = draw(random_days)
    if kind == "holiday":
        days = public_holidays(jurisdiction, day.year)
        if days:
            day = draw(st.sampled_from(days))
        wall = _hhmm(draw(st.integers(7 * 60, 22 * 60)))
        return zone, at_local(zone, day, wall)
    rule = legal_rule(jurisdiction)
    edge = draw(st.sampled_from([window.start, window.end, rule.start, rule.end,
                                 time(8), time(20), time(21)]))
    jitter = timedelta(seconds=draw(st.sampled_from([-61, -1, 0, 1, 59, 60])))
    return zone, at_local(zone, day, edge) + jitter


@dataclass(frozen=True)
class Scenario:
    policy: WindowPolicy
    zone: str
    jurisdiction: str
    instant: datetime


@st.composite
def scenarios(draw, windows=campaign_windows()) -> Scenario:
    jurisdiction = draw(st.sampled_from(JURISDICTIONS))
    window = draw(windows)
    zone, instant = draw(zoned_instants(jurisdiction, window))
    today = local(zone, instant).date()
    nearby = [today + timedelta(days=d) for d in (-1, 0, 1, 2)]
    policy = WindowPolicy(
        window=window,
        blackout_dates=draw(st.frozensets(st.sampled_from(nearby), max_size=2)),
        skip_public_holidays=draw(st.booleans()),
        holiday_overrides=draw(st.frozensets(
            st.sampled_from(nearby + public_holidays(jurisdiction, today.year)), max_size=3)),
    )
    return Scenario(policy, zone, jurisdiction, instant)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

@PROPERTY
@given(scenarios())
def test_a_contact_is_callable_exactly_when_local_day_and_wall_time_satisfy_campaign_and_law(s):
    assert s.policy.is_open(s.zone, s.jurisdiction, s.instant) == expected_open(
        s.policy, s.zone, s.jurisdiction, s.instant)


@PROPERTY
@given(scenarios())
def test_an_open_window_stays_open_until_the_local_end_of_the_window_and_is_closed_then(s):
    closes = s.policy.closes_at(s.zone, s.jurisdiction, s.instant)
    if closes is None:
        return
    wall = local(s.zone, s.instant)
    rule = legal_rule(s.jurisdiction)
    day = wall.date()
    # where the window is open, every rule holds in local time
    assert s.policy.window.start <= wall.time() < s.policy.window.end
    assert rule.start <= wall.time() < rule.end
    assert day.weekday() in s.policy.window.days
    assert not (rule.no_sunday and day.weekday() == SUNDAY)
    assert day not in s.policy.blackout_dates
    if is_public_holiday(s.jurisdiction, day):
        assert not rule.no_holidays
        assert not s.policy.skip_public_holidays or day in s.policy.holiday_overrides
    # the close is a UTC instant after now: the local end of today's window
    assert closes.utcoffset() == timedelta(0)
    assert s.instant < closes
    assert closes == at_local(s.zone, day, effective_bounds(s.policy, s.jurisdiction)[1])
    # every instant until then is open with the same close, and the close itself is closed
    gap = closes - s.instant
    for k in range(1, 8):
        between = s.instant + gap * k / 8
        assert s.policy.closes_at(s.zone, s.jurisdiction, between) == closes
        assert expected_open(s.policy, s.zone, s.jurisdiction, between)
    assert s.policy.closes_at(s.zone, s.jurisdiction, closes - timedelta(microseconds=1)) == closes
    assert not s.policy.is_open(s.zone, s.jurisdiction, closes)


WIDE_WINDOWS = st.one_of(
    st.just(CallingWindow(time(0, 0), time(23, 59), frozenset(range(7)))),
    campaign_windows(),
)
# The floor from DESIGN.md and legal_hours.json, written out independently of legal_rule().
FLOOR_END_HOUR = {"US-FL": 20, "US-OK": 20, "US-MD": 20}
NO_SUNDAY = {"US-AL", "US-LA", "US-MS"}
NO_HOLIDAYS = {"US-AL", "US-LA"}


@PROPERTY
@given(scenarios(windows=WIDE_WINDOWS))
def test_no_campaign_config_widens_the_legal_floor(s):
    if not s.policy.is_open(s.zone, s.jurisdiction, s.instant):
        return
    wall = local(s.zone, s.instant)
    assert wall.time() >= time(8, 0), "called before 08:00 local"
    assert wall.time() < time(FLOOR_END_HOUR.get(s.jurisdiction, 21), 0), "called after the legal end"
    if s.jurisdiction in NO_SUNDAY:
        assert wall.weekday() != SUNDAY
    if s.jurisdiction in NO_HOLIDAYS:
        assert not is_public_holiday(s.jurisdiction, wall.date())


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS + ["US-TX", "CA-QC", "XX-YY"])
def test_every_jurisdiction_is_at_least_as_strict_as_the_08_to_21_floor(jurisdiction):
    rule = legal_rule(jurisdiction)
    assert rule.start >= time(8, 0)
    assert rule.end <= time(21, 0)


def _day_opening_instants(s: Scenario, first: date, last: date):
    """For each local day, the instant its window would open (the only place an opening can be)."""
    start = effective_bounds(s.policy, s.jurisdiction)[0]
    day = first
    while day <= last:
        yield at_local(s.zone, day, start)
        day += timedelta(days=1)


@PROPERTY
@given(scenarios())
def test_next_opening_is_the_first_open_instant_at_or_after_the_given_one(s):
    after = s.instant
    opening = s.policy.next_opening(s.zone, s.jurisdiction, after)
    if opening is None:
        return
    assert opening >= after
    assert s.policy.is_open(s.zone, s.jurisdiction, opening)
    assert expected_open(s.policy, s.zone, s.jurisdiction, opening)
    if opening == after:
        return
    assert not expected_open(s.policy, s.zone, s.jurisdiction, after)
    # nothing opens earlier: not the second before, not at any day's window start in between...
    if opening - timedelta(seconds=1) >= after:
        assert not s.policy.is_open(s.zone, s.jurisdiction, opening - timedelta(seconds=1))
    for candidate in _day_opening_instants(s, local(s.zone, after).date(), local(s.zone, opening).date()):
        if after <= candidate < opening:
            assert not expected_open(s.policy, s.zone, s.jurisdiction, candidate)
    # ...and, minute by minute for short waits, or on a sample for long ones, nothing is open
    gap = opening - after
    if gap <= timedelta(hours=3):
        samples = [after + timedelta(minutes=m) for m in range(int(gap / timedelta(minutes=1)) + 1)]
    else:
        samples = [after + gap * k / 97 for k in range(97)]
    for sample in samples:
        if sample < opening:
            assert not s.policy.is_open(s.zone, s.jurisdiction, sample)


@PROPERTY
@given(scenarios())
def test_no_next_opening_means_nothing_opens_within_the_horizon(s):
    after = s.instant
    if s.policy.next_opening(s.zone, s.jurisdiction, after, horizon_days=HORIZON_DAYS) is not None:
        return
    assert not expected_open(s.policy, s.zone, s.jurisdiction, after)
    first = local(s.zone, after).date()
    for candidate in _day_opening_instants(s, first, first + timedelta(days=HORIZON_DAYS)):
        if candidate >= after:
            assert not expected_open(s.policy, s.zone, s.jurisdiction, candidate)


@PROPERTY
@given(
    policy=st.builds(WindowPolicy, window=campaign_windows(), skip_public_holidays=st.booleans()),
    pairs=st.lists(st.tuples(st.sampled_from(ZONES), st.sampled_from(JURISDICTIONS)), max_size=10),
    instant=st.one_of(random_instants, st.sampled_from(TRANSITIONS).map(lambda zt: zt[1])),
)
def test_open_keys_are_exactly_the_keys_open_now_each_with_its_close(policy, pairs, instant):
    keys = [window_key(zone, jurisdiction) for zone, jurisdiction in pairs]
    opened = open_keys(policy, keys, instant)
    assert set(opened) == {k for k in keys if policy.is_open(*split_key(k), instant)}
    for key, closes in opened.items():
        assert closes == policy.closes_at(*split_key(key), instant)
        assert expected_open(policy, *split_key(key), instant)


@given(st.sampled_from(ZONES + ["America/Argentina/Buenos_Aires"]), st.sampled_from(JURISDICTIONS))
def test_a_window_key_splits_back_into_its_zone_and_jurisdiction(zone, jurisdiction):
    assert split_key(window_key(zone, jurisdiction)) == (zone, jurisdiction)


# --------------------------------------------------------------------------------------------
# The legal table
# --------------------------------------------------------------------------------------------

def test_us_federal_floor_is_08_00_to_21_00_with_no_day_bans():
    assert legal_rule("US") == LegalRule(time(8), time(21), no_sunday=False, no_holidays=False)


@pytest.mark.parametrize("state", ["US-FL", "US-OK", "US-MD"])
def test_florida_oklahoma_and_maryland_end_at_20_00_and_cap_attempts_at_3_a_day(state):
    rule = legal_rule(state)
    assert (rule.start, rule.end, rule.max_attempts_24h) == (time(8), time(20), 3)


@pytest.mark.parametrize("state", ["US-AL", "US-LA"])
def test_alabama_and_louisiana_ban_sundays_and_holidays_within_the_federal_hours(state):
    assert legal_rule(state) == LegalRule(time(8), time(21), no_sunday=True, no_holidays=True)


def test_mississippi_bans_sundays_but_not_holidays():
    assert legal_rule("US-MS") == LegalRule(time(8), time(21), no_sunday=True, no_holidays=False)


@pytest.mark.parametrize("jurisdiction", ["US-NY", "US-TX", "GB", "JP", "ZZ"])
def test_jurisdictions_without_their_own_rule_get_the_08_to_21_floor(jurisdiction):
    assert legal_rule(jurisdiction) == LegalRule(time(8), time(21))


# --------------------------------------------------------------------------------------------
# Named examples
# --------------------------------------------------------------------------------------------

NY, CHICAGO = "America/New_York", "America/Chicago"
EVENINGS = WindowPolicy(window=CallingWindow(time(8), time(21)))
WEDNESDAY_2026_06_10 = date(2026, 6, 10)
SUNDAY_2026_06_14 = date(2026, 6, 14)
THANKSGIVING_2026 = date(2026, 11, 26)


def test_florida_contact_is_not_callable_at_20_30_local_while_new_york_is():
    at_20_30_edt = at_local(NY, WEDNESDAY_2026_06_10, time(20, 30))
    assert at_20_30_edt == datetime(2026, 6, 11, 0, 30, tzinfo=UTC)
    assert not EVENINGS.is_open(NY, "US-FL", at_20_30_edt)
    assert EVENINGS.closes_at(NY, "US-NY", at_20_30_edt) == datetime(2026, 6, 11, 1, 0, tzinfo=UTC)


def test_florida_window_closes_at_20_00_local_even_when_the_campaign_runs_until_21_00():
    at_19_00_edt = at_local(NY, WEDNESDAY_2026_06_10, time(19))
    assert EVENINGS.closes_at(NY, "US-FL", at_19_00_edt) == datetime(2026, 6, 11, 0, 0, tzinfo=UTC)
    assert not EVENINGS.is_open(NY, "US-FL", datetime(2026, 6, 11, 0, 0, tzinfo=UTC))


def test_no_contact_anywhere_is_called_at_21_00_local_or_before_08_00_local():
    whole_day = WindowPolicy(window=CallingWindow(time(0), time(23, 59)))
    for jurisdiction in JURISDICTIONS:
        assert not whole_day.is_open(NY, jurisdiction, at_local(NY, WEDNESDAY_2026_06_10, time(21)))
        assert not whole_day.is_open(NY, jurisdiction, at_local(NY, WEDNESDAY_2026_06_10, time(7, 59, 59)))
        assert whole_day.is_open(NY, jurisdiction, at_local(NY, WEDNESDAY_2026_06_10, time(8)))


@pytest.mark.parametrize("state", ["US-AL", "US-LA", "US-MS"])
def test_alabama_louisiana_and_mississippi_contacts_are_never_called_on_sunday(state):
    sunday_noon = at_local(CHICAGO, SUNDAY_2026_06_14, time(12))
    policy = WindowPolicy(window=CallingWindow(days=frozenset(range(7))))
    assert not policy.is_open(CHICAGO, state, sunday_noon)
    assert policy.is_open(CHICAGO, "US", sunday_noon)
    # the next call is Monday at 09:00 local
    assert policy.next_opening(CHICAGO, state, sunday_noon) == at_local(CHICAGO, date(2026, 6, 15), time(9))


def test_alabama_is_closed_on_thanksgiving_even_with_a_holiday_override_for_it():
    noon = at_local(CHICAGO, THANKSGIVING_2026, time(12))
    for skip in (True, False):
        policy = WindowPolicy(skip_public_holidays=skip, holiday_overrides=frozenset({THANKSGIVING_2026}))
        assert not policy.is_open(CHICAGO, "US-AL", noon)
        assert not policy.is_open(CHICAGO, "US-LA", noon)
        assert policy.is_open(CHICAGO, "US-MS", noon)  # Mississippi bans Sundays only


def test_new_york_contact_is_not_called_on_thanksgiving_when_the_campaign_skips_holidays():
    noon = at_local(NY, THANKSGIVING_2026, time(12))
    assert not WindowPolicy(skip_public_holidays=True).is_open(NY, "US-NY", noon)


def test_a_holiday_override_lets_a_holiday_skipping_campaign_call_new_york_on_that_date():
    noon = at_local(NY, THANKSGIVING_2026, time(12))
    policy = WindowPolicy(skip_public_holidays=True, holiday_overrides=frozenset({THANKSGIVING_2026}))
    assert policy.closes_at(NY, "US-NY", noon) == at_local(NY, THANKSGIVING_2026, time(20))


def test_a_campaign_that_does_not_skip_holidays_calls_new_york_on_thanksgiving():
    noon = at_local(NY, THANKSGIVING_2026, time(12))
    assert WindowPolicy(skip_public_holidays=False).is_open(NY, "US-NY", noon)


def test_a_blackout_date_is_a_date_in_the_contacts_own_calendar():
    # 2026-06-11 01:00 UTC is Thursday 10:00 in Tokyo and still Wednesday 18:00 in Los Angeles.
    instant = datetime(2026, 6, 11, 1, 0, tzinfo=UTC)
    policy = WindowPolicy(blackout_dates=frozenset({date(2026, 6, 11)}))
    assert not policy.is_open("Asia/Tokyo", "JP", instant)
    assert policy.is_open("America/Los_Angeles", "US", instant)
    assert WindowPolicy().is_open("Asia/Tokyo", "JP", instant)


def test_the_campaigns_days_are_weekdays_in_the_contacts_local_calendar():
    # 2026-06-13 02:00 UTC is Friday 16:00 in Honolulu and Saturday 11:00 in Tokyo.
    weekdays = WindowPolicy(window=CallingWindow(days=frozenset(range(5))))
    instant = datetime(2026, 6, 13, 2, 0, tzinfo=UTC)
    assert weekdays.is_open("Pacific/Honolulu", "US", instant)
    assert not weekdays.is_open("Asia/Tokyo", "JP", instant)
    assert weekdays.next_opening("Asia/Tokyo", "JP", instant) == at_local("Asia/Tokyo", date(2026, 6, 15), time(9))


def test_new_york_spring_forward_day_window_runs_09_00_to_20_00_edt():
    day = date(2026, 3, 8)  # 02:00 EST -> 03:00 EDT
    policy = WindowPolicy()
    nine_edt = datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert policy.next_opening(NY, "US-NY", datetime(2026, 3, 8, 5, 0, tzinfo=UTC)) == nine_edt
    assert not policy.is_open(NY, "US-NY", nine_edt - timedelta(seconds=1))
    assert policy.closes_at(NY, "US-NY", nine_edt) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    assert policy.closes_at(NY, "US-NY", nine_edt) == at_local(NY, day, time(20))


def test_new_york_fall_back_day_window_runs_09_00_to_20_00_est():
    policy = WindowPolicy()  # 2026-11-01: 02:00 EDT -> 01:00 EST
    nine_est = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert not policy.is_open(NY, "US-NY", datetime(2026, 11, 1, 13, 30, tzinfo=UTC))  # 08:30 EST
    assert policy.next_opening(NY, "US-NY", datetime(2026, 11, 1, 4, 0, tzinfo=UTC)) == nine_est
    assert policy.closes_at(NY, "US-NY", nine_est) == datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone, day, opens, closes", [
    # Lord Howe springs forward half an hour (+10:30 -> +11) at 02:00 on 2026-10-04...
    ("Australia/Lord_Howe", date(2026, 10, 4), datetime(2026, 10, 3, 22, 0), datetime(2026, 10, 4, 9, 0)),
    # ...and falls back half an hour on 2026-04-05.
    ("Australia/Lord_Howe", date(2026, 4, 5), datetime(2026, 4, 4, 22, 30), datetime(2026, 4, 5, 9, 30)),
    # Santiago changes at midnight: -04 -> -03 on 2026-09-06.
    ("America/Santiago", date(2026, 9, 6), datetime(2026, 9, 6, 12, 0), datetime(2026, 9, 6, 23, 0)),
    # London springs forward on 2026-03-29.
    ("Europe/London", date(2026, 3, 29), datetime(2026, 3, 29, 8, 0), datetime(2026, 3, 29, 19, 0)),
    # Tehran still had DST in 2022 (+03:30 -> +04:30 on 2022-03-22).
    ("Asia/Tehran", date(2022, 3, 22), datetime(2022, 3, 22, 4, 30), datetime(2022, 3, 22, 15, 30)),
])
def test_on_a_dst_change_day_the_window_is_09_00_to_20_00_on_the_local_clock(zone, day, opens, closes):
    policy = WindowPolicy(skip_public_holidays=False)
    opens, closes = opens.replace(tzinfo=UTC), closes.replace(tzinfo=UTC)
    local_midnight = at_local(zone, day, time(0))
    assert policy.next_opening(zone, "ZZ", local_midnight) == opens
    assert policy.closes_at(zone, "ZZ", opens) == closes
    assert not policy.is_open(zone, "ZZ", closes)


# --- DST gaps and repeated hours inside a window -------------------------------------------
# No IANA zone changes its clocks between 08:00 and 21:00 local in 2020-2035, so with the real
# legal floor a window never meets a gap or a repeated hour. These tests lift the floor for a
# made-up jurisdiction to pin down the DST logic on its own.

@pytest.fixture
def no_legal_floor(monkeypatch):
    real = cw.legal_rule
    monkeypatch.setattr(cw, "legal_rule",
                        lambda j: LegalRule(time(0), time(23, 59, 59)) if j == "XX-NIGHT" else real(j))
    return "XX-NIGHT"


SPRING_FORWARD = date(2026, 3, 8)   # New York: 02:00 EST (07:00Z) -> 03:00 EDT
FALL_BACK = date(2026, 11, 1)       # New York: 02:00 EDT (06:00Z) -> 01:00 EST; 01:xx happens twice
GAP_STARTS = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_a_window_ending_inside_the_spring_forward_gap_makes_no_call_after_the_gap(no_legal_floor):
    policy = WindowPolicy(window=CallingWindow(time(0), time(2, 30)), skip_public_holidays=False)
    assert policy.is_open(NY, no_legal_floor, GAP_STARTS - timedelta(minutes=15))  # 01:45 EST
    for after_gap in (GAP_STARTS, GAP_STARTS + timedelta(minutes=30), GAP_STARTS + timedelta(hours=1)):
        assert not policy.is_open(NY, no_legal_floor, after_gap)
    assert policy.closes_at(NY, no_legal_floor, GAP_STARTS - timedelta(minutes=15)) <= GAP_STARTS


def test_a_window_ending_inside_the_spring_forward_gap_closes_at_the_gap(no_legal_floor):
    policy = WindowPolicy(window=CallingWindow(time(0), time(2, 30)), skip_public_holidays=False)
    asked = GAP_STARTS - timedelta(minutes=15)  # 01:45 EST, open
    closes = policy.closes_at(NY, no_legal_floor, asked)
    assert closes is not None and asked < closes
    assert closes == GAP_STARTS


def test_a_window_starting_inside_the_spring_forward_gap_opens_right_after_the_gap(no_legal_floor):
    policy = WindowPolicy(window=CallingWindow(time(2, 30), time(23)), skip_public_holidays=False)
    midnight = at_local(NY, SPRING_FORWARD, time(0))
    assert policy.is_open(NY, no_legal_floor, GAP_STARTS)
    assert policy.next_opening(NY, no_legal_floor, midnight) == GAP_STARTS


def test_a_window_ending_in_the_repeated_hour_closes_at_its_first_occurrence(no_legal_floor):
    policy = WindowPolicy(window=CallingWindow(time(0), time(1, 30)), skip_public_holidays=False)
    first_01_15 = datetime(2026, 11, 1, 5, 15, tzinfo=UTC)  # 01:15 EDT
    assert policy.closes_at(NY, no_legal_floor, first_01_15) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert not policy.is_open(NY, no_legal_floor, datetime(2026, 11, 1, 5, 30, tzinfo=UTC))


def test_a_window_that_closed_in_the_repeated_hour_does_not_reopen_when_the_hour_repeats(no_legal_floor):
    policy = WindowPolicy(window=CallingWindow(time(0), time(1, 30)), skip_public_holidays=False)
    second_01_15 = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)  # 01:15 EST
    assert not policy.is_open(NY, no_legal_floor, second_01_15)
    assert policy.next_opening(NY, no_legal_floor, second_01_15) == at_local(NY, FALL_BACK + timedelta(days=1), time(0))


def test_is_open_and_next_opening_agree_on_a_window_starting_in_the_repeated_hour(no_legal_floor):
    policy = WindowPolicy(window=CallingWindow(time(1, 30), time(23)), skip_public_holidays=False)
    opening = policy.next_opening(NY, no_legal_floor, at_local(NY, FALL_BACK, time(0)))
    first_01_30 = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert opening is not None
    assert not (first_01_30 < opening and policy.is_open(NY, no_legal_floor, first_01_30))


# --- The same rules as properties, around every DST transition of 2020-2035 -----------------

@st.composite
def night_scenarios(draw) -> tuple[WindowPolicy, str, datetime]:
    """A zone near one of its transitions, and a window whose edges sit near the transition's wall
    times (so they fall in gaps and repeated hours), with no legal floor."""
    zone, transition = draw(st.sampled_from(TRANSITIONS))
    tz = ZoneInfo(zone)
    walls = [(transition + timedelta(microseconds=d)).astimezone(tz) for d in (-1, 0)]
    near = [w.hour * 60 + w.minute + delta for w in walls for delta in (-60, -30, -1, 0, 1, 30, 60)]
    edge = st.one_of(st.sampled_from([m for m in near if 0 <= m <= 23 * 60 + 59]),
                     st.integers(0, 23 * 60 + 59))
    start, end = sorted(draw(st.lists(edge, min_size=2, max_size=2, unique=True)))
    policy = WindowPolicy(window=CallingWindow(_hhmm(start), _hhmm(end)), skip_public_holidays=False)
    return policy, zone, transition + draw(SMALL_OFFSETS)


def _first_reading(instant: datetime, zone: str, wall: time) -> bool:
    """``instant`` is when the clock first reads ``wall``, or jumps past it over a gap."""
    now = local(zone, instant).replace(tzinfo=None)
    before = local(zone, instant - timedelta(microseconds=1)).replace(tzinfo=None)
    return any(now == datetime.combine(day, wall) or before < datetime.combine(day, wall) < now
               for day in {now.date(), before.date()})


@PROPERTY
@given(night_scenarios())
def test_without_a_floor_an_open_window_stays_open_until_a_future_close_and_never_reopens_that_day(case):
    policy, zone, instant = case
    with pytest.MonkeyPatch.context() as patch:
        real = cw.legal_rule
        patch.setattr(cw, "legal_rule", lambda j: LegalRule(time(0), time(23, 59, 59)) if j == "XX-NIGHT" else real(j))
        closes = policy.closes_at(zone, "XX-NIGHT", instant)
        if closes is None:
            return
        assert instant < closes
        assert _first_reading(closes, zone, policy.window.end)
        gap = closes - instant
        for k in range(1, 8):
            assert policy.closes_at(zone, "XX-NIGHT", instant + gap * k / 8) == closes
        day = local(zone, instant).date()
        for minutes in range(0, 4 * 60, 5):
            later = closes + timedelta(minutes=minutes)
            if local(zone, later).date() == day:
                assert not policy.is_open(zone, "XX-NIGHT", later)


@PROPERTY
@given(night_scenarios())
def test_without_a_floor_next_opening_is_the_first_instant_the_window_is_open(case):
    policy, zone, after = case
    with pytest.MonkeyPatch.context() as patch:
        real = cw.legal_rule
        patch.setattr(cw, "legal_rule", lambda j: LegalRule(time(0), time(23, 59, 59)) if j == "XX-NIGHT" else real(j))
        opening = policy.next_opening(zone, "XX-NIGHT", after)
        assert opening is not None  # every day is a calling day here
        assert opening >= after
        assert policy.is_open(zone, "XX-NIGHT", opening)
        if opening == after:
            return
        assert _first_reading(opening, zone, policy.window.start)
        minutes = int((opening - after) / timedelta(minutes=1))
        for m in range(0, minutes + 1) if minutes <= 6 * 60 else range(0, minutes + 1, 13):
            sample = after + timedelta(minutes=m)
            if sample < opening:
                assert not policy.is_open(zone, "XX-NIGHT", sample)
        assert not policy.is_open(zone, "XX-NIGHT", opening - timedelta(seconds=1))
