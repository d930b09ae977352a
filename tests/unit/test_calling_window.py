"""Calling windows as a specification: who may be dialed when, in the contact's local time.

The oracle in this file is written from the statutes (the sources cited in docs/compliance.md),
not from the code: a contact is callable at an instant when, on the local calendar day and wall
clock of their zone, the day is one of the campaign's days and not a blackout date, and for
*every* jurisdiction whose law applies to them (the address state, the number's state, its
country, and the product's own floor), the law in force on that local day allows that weekday,
does not ban that public holiday (``holidays`` package), and its hours for that weekday hold the
wall time; the campaign's window holds it too, and the campaign skips public holidays unless
overridden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.campaigns import calling_window as cw
from include.campaigns.calling_window import (
    ALL_DAY,
    Blackout,
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
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/St_Johns",
    "America/Santiago",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Casablanca",
    "Asia/Tehran",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Etc/UTC",
]
DST_ZONES = [
    "America/New_York",
    "America/Chicago",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Tehran",
    "Pacific/Chatham",
    "America/St_Johns",
    "Africa/Casablanca",
]
SINGLE_JURISDICTIONS = [
    "US",
    "US-FL",
    "US-OK",
    "US-MD",
    "US-AL",
    "US-LA",
    "US-MS",
    "US-TX",
    "US-WA",
    "US-UT",
    "US-RI",
    "US-NY",
    "US-VA",
    "US-ME",
    "CA",
    "GB",
    "JP",
    "ZZ",
]
# Several jurisdictions at once: an address state beside the number's state or country.
JURISDICTIONS = SINGLE_JURISDICTIONS + [
    "US-FL+US-GA",
    "US-TX+US-WA",
    "CA+US-FL",
    "GB+US-AL",
    "US-MS+US-OK",
    "US-NY+US-ME",
]

FIRST_DAY, LAST_DAY = date(2020, 1, 1), date(2035, 12, 31)
HORIZON_DAYS = 14

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# The oracle: the law as the statutes state it
# --------------------------------------------------------------------------------------------


def _t(hhmm: str) -> time:
    return time(*map(int, hhmm.split(":")))  # type: ignore[arg-type]


def _days(weekdays=None, sat=None, sun=None):
    """Monday..Sunday hours; None closes the day."""
    return tuple([weekdays] * 5 + [sat, sun])


def _every(start: str, end: str):
    span = (_t(start), _t(end))
    return (span,) * 7


@dataclass(frozen=True)
class Law:
    hours: tuple  # Monday..Sunday (start, end) local, None for a closed day
    holidays: str | None = None  # the calendar whose holidays it bans
    since: date | None = None  # in force from this day on (None: long in force)
    cap: int | None = None  # attempts per number in a rolling 24 h


H = lambda a, b: (_t(a), _t(b))  # noqa: E731
LAW = {
    # The product's own floor for every number (conservative), and 47 CFR 64.1200(c)(1) for the US.
    "*": [Law(_every("08:00", "21:00"))],
    "US": [Law(_every("08:00", "21:00"))],
    # Fla. Stat. 501.616(6) as amended by SB 1120, in force 1 Jul 2021.
    "US-FL": [Law(_every("08:00", "20:00"), since=date(2021, 7, 1), cap=3)],
    # 15 Okl. St. 755.1 (recorded messages: 09:00-21:00); Telephone Solicitation Act of 2022 from 1 Nov 2022.
    "US-OK": [Law(_every("09:00", "21:00")), Law(_every("08:00", "20:00"), since=date(2022, 11, 1), cap=3)],
    # Stop the Spam Calls Act of 2023, in force 1 Jan 2024.
    "US-MD": [Law(_every("08:00", "20:00"), since=date(2024, 1, 1), cap=3)],
    # Ala. Admin. Code r. 770-X-5-.17(1)(b) (automated solicitation calls): none on Sundays or holidays,
    # none before 08:00 or after 20:00 on the other days.
    "US-AL": [Law(_days(H("08:00", "20:00"), H("08:00", "20:00"), None), holidays="US-AL")],
    # La. PSC General Order R-29617: no calls 20:00-08:00 Monday to Saturday, none on Sundays or legal holidays.
    "US-LA": [Law(_days(H("08:00", "20:00"), H("08:00", "20:00"), None), holidays="US-LA")],
    # Miss. Code 77-3-723(1), 77-3-603(a): 08:00-21:00 'Central Standard Time' Monday to Saturday, no Sundays;
    # read in daylight time and with two summaries' 20:00 end: 09:00-20:00.
    "US-MS": [
        Law(_days(H("08:00", "21:00"), H("08:00", "21:00"), None)),
        Law(_days(H("09:00", "20:00"), H("09:00", "20:00"), None)),
    ],
    # Tex. Bus. & Com. Code 301.051: 09:00-21:00 Monday to Saturday, 12:00-21:00 on Sunday.
    "US-TX": [Law(_days(H("09:00", "21:00"), H("09:00", "21:00"), H("12:00", "21:00")))],
    # RCW 19.158.040(2): 08:00-20:00.
    "US-WA": [Law(_every("08:00", "20:00"))],
    # Utah Code 13-25a-103(3): not 21:00-08:00, not on Sundays, not on legal holidays.
    "US-UT": [Law(_days(H("08:00", "21:00"), H("08:00", "21:00"), None), holidays="US-UT")],
    # R.I. Gen. Laws 5-61-2(2): weekdays 09:00-18:00 except holidays, Saturday 10:00-17:00, no Sundays.
    "US-RI": [Law(_days(H("09:00", "18:00"), H("10:00", "17:00"), None), holidays="US-RI")],
    # N.Y. Gen. Bus. Law 399-z(2), in force from 13 Jan 2011: only between 08:00 and 21:00.
    "US-NY": [Law(_every("08:00", "21:00"), since=date(2011, 1, 13))],
    # Va. Code 59.1-511: only between 08:00 and 21:00.
    "US-VA": [Law(_every("08:00", "21:00"))],
    # 10 M.R.S. 1498(3) (automated calling devices): weekdays 09:00-17:00 only, one call per 8 hours
    # (kept as one per rolling 24 hours, the only window the claim counts).
    "US-ME": [Law(_days(H("09:00", "17:00"), None, None), cap=1)],
    # Georgia: only O.C.G.A. 46-5-187(3) (telecommunications companies, 08:00-21:00) was found; the
    # neighbours' 20:00 end is kept (conservative).
    "US-GA": [Law(_every("08:00", "20:00"))],
    # CRTC Unsolicited Telecommunications Rules: weekdays 09:00-21:30, weekends 10:00-18:00.
    "CA": [Law(_days(H("09:00", "21:30"), H("10:00", "18:00"), H("10:00", "18:00")))],
}


def laws_in_force(jurisdiction: str, day: date) -> list[Law]:
    codes = {"*"}
    for part in jurisdiction.split("+"):
        codes |= {part.split("-")[0], part}
    return [law for code in codes for law in LAW.get(code, []) if law.since is None or law.since <= day]


def law_hours(jurisdiction: str, day: date) -> tuple[time, time] | None:
    """The hours every applicable law allows on ``day`` (the intersection), or None."""
    start, end = time(0), time(23, 59, 59)
    for law in laws_in_force(jurisdiction, day):
        span = law.hours[day.weekday()]
        if span is None:
            return None
        start, end = max(start, span[0]), min(end, span[1])
    return (start, end) if start < end else None


def law_bans_holiday(jurisdiction: str, day: date) -> bool:
    return any(law.holidays and is_public_holiday(law.holidays, day) for law in laws_in_force(jurisdiction, day))


def law_cap(jurisdiction: str, day: date) -> int | None:
    caps = [law.cap for law in laws_in_force(jurisdiction, day) if law.cap is not None]
    return min(caps) if caps else None


@cache
def _calendar(jurisdiction: str):
    country, _, subdiv = jurisdiction.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError:  # "ZZ": no such country, no holidays
        return None


def is_public_holiday(jurisdiction: str, day: date) -> bool:
    calendar = _calendar(jurisdiction)
    return calendar is not None and day in calendar


def is_any_public_holiday(jurisdiction: str, day: date) -> bool:
    return any(is_public_holiday(part, day) for part in jurisdiction.split("+"))


def public_holidays(jurisdiction: str, year: int) -> list[date]:
    calendar = _calendar(jurisdiction.split("+")[0])
    if calendar is None:
        return []
    calendar.get(date(year, 1, 1))  # populate the year
    return sorted(d for d in calendar if d.year == year)


def local(zone: str, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


def at_local(zone: str, day: date, wall: time) -> datetime:
    return datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def day_allowed(policy: WindowPolicy, jurisdiction: str, day: date) -> bool:
    if day.weekday() not in policy.window.days or day in policy.blackout_dates:
        return False
    if law_hours(jurisdiction, day) is None or law_bans_holiday(jurisdiction, day):
        return False
    if policy.skip_public_holidays and day not in policy.holiday_overrides and is_any_public_holiday(jurisdiction, day):
        return False
    return True


def effective_bounds(policy: WindowPolicy, jurisdiction: str, day: date) -> tuple[time, time]:
    hours = law_hours(jurisdiction, day) or (time(0), time(0))
    return max(policy.window.start, hours[0]), min(policy.window.end, hours[1])


def expected_open(policy: WindowPolicy, zone: str, jurisdiction: str, instant: datetime) -> bool:
    wall = local(zone, instant)
    start, end = effective_bounds(policy, jurisdiction, wall.date())
    return day_allowed(policy, jurisdiction, wall.date()) and start <= wall.time() < end


def law_edges(jurisdiction: str) -> list[time]:
    """Every wall time at which some applicable law opens or closes."""
    codes = {"*"} | {c for part in jurisdiction.split("+") for c in (part.split("-")[0], part)}
    return sorted({t for code in codes for law in LAW.get(code, []) for span in law.hours if span for t in span})


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
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31, 23, 59, 59),
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
    days = draw(st.one_of(st.just(frozenset(range(7))), st.frozensets(st.integers(0, 6), min_size=1)))
    return CallingWindow(_hhmm(start), _hhmm(end), days)


@st.composite
def zoned_instants(draw, jurisdiction: str, window: CallingWindow) -> tuple[str, datetime]:
    """A zone and an instant: anywhere, near a DST transition, on a holiday, or at a window edge."""
    kind = draw(st.sampled_from(["random", "near_dst", "near_dst_far", "holiday", "edge", "effective_date"]))
    if kind in ("near_dst", "near_dst_far"):
        zone, transition = draw(st.sampled_from(TRANSITIONS))
        return zone, transition + draw(SMALL_OFFSETS if kind == "near_dst" else DAY_OFFSETS)
    zone = draw(st.sampled_from(ZONES))
    if kind == "random":
        return zone, draw(random_instants)
    if kind == "effective_date":  # the days around a law coming into force, at its edges
        since = draw(
            st.sampled_from(
                [date(2011, 1, 13), date(2021, 7, 1), date(2022, 11, 1), date(2024, 1, 1), date(2025, 9, 1)]
            )
        )
        day = since + timedelta(days=draw(st.integers(-2, 1)))
        wall = draw(
            st.sampled_from([time(19, 59), time(20), time(20, 30), time(8, 30), time(9), time(16, 59), time(17)])
        )
        return zone, at_local(zone, day, wall)
    day = draw(random_days)
    if kind == "holiday":
        days = public_holidays(jurisdiction, day.year)
        if days:
            day = draw(st.sampled_from(days))
        wall = _hhmm(draw(st.integers(7 * 60, 22 * 60)))
        return zone, at_local(zone, day, wall)
    edge = draw(st.sampled_from([window.start, window.end, *law_edges(jurisdiction), time(8), time(20), time(21)]))
    jitter = timedelta(seconds=draw(st.sampled_from([-61, -1, 0, 1, 59, 60])))
    return zone, at_local(zone, day, edge) + jitter


@dataclass(frozen=True)
class Scenario:
    policy: WindowPolicy
    zone: str
    jurisdiction: str
    instant: datetime


@st.composite
def scenarios(draw, windows=campaign_windows()) -> Scenario:  # noqa: B008 - a strategy, built once
    jurisdiction = draw(st.sampled_from(JURISDICTIONS))
    window = draw(windows)
    zone, instant = draw(zoned_instants(jurisdiction, window))
    today = local(zone, instant).date()
    nearby = [today + timedelta(days=d) for d in (-1, 0, 1, 2)]
    policy = WindowPolicy(
        window=window,
        blackout_dates=draw(st.frozensets(st.sampled_from(nearby), max_size=2)),
        skip_public_holidays=draw(st.booleans()),
        holiday_overrides=draw(
            st.frozensets(st.sampled_from(nearby + public_holidays(jurisdiction, today.year)), max_size=3)
        ),
    )
    return Scenario(policy, zone, jurisdiction, instant)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_a_contact_is_callable_exactly_when_local_day_and_wall_time_satisfy_campaign_and_law(s):
    assert s.policy.is_open(s.zone, s.jurisdiction, s.instant) == expected_open(
        s.policy, s.zone, s.jurisdiction, s.instant
    )


@PROPERTY
@given(scenarios())
def test_an_open_window_stays_open_until_the_local_end_of_the_window_and_is_closed_then(s):
    closes = s.policy.closes_at(s.zone, s.jurisdiction, s.instant)
    if closes is None:
        return
    wall = local(s.zone, s.instant)
    day = wall.date()
    # where the window is open, every rule holds in local time
    assert s.policy.window.start <= wall.time() < s.policy.window.end
    hours = law_hours(s.jurisdiction, day)
    assert hours is not None and hours[0] <= wall.time() < hours[1]
    assert day.weekday() in s.policy.window.days
    assert day not in s.policy.blackout_dates
    assert not law_bans_holiday(s.jurisdiction, day)
    if is_any_public_holiday(s.jurisdiction, day):
        assert not s.policy.skip_public_holidays or day in s.policy.holiday_overrides
    # the close is a UTC instant after now: the local end of today's window
    assert closes.utcoffset() == timedelta(0)
    assert s.instant < closes
    assert closes == at_local(s.zone, day, effective_bounds(s.policy, s.jurisdiction, day)[1])
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


@PROPERTY
@given(scenarios(windows=WIDE_WINDOWS))
def test_no_campaign_config_widens_the_legal_floor(s):
    if not s.policy.is_open(s.zone, s.jurisdiction, s.instant):
        return
    wall = local(s.zone, s.instant)
    hours = law_hours(s.jurisdiction, wall.date())
    assert hours is not None, "called on a day the law closes"
    assert hours[0] <= wall.time(), "called before the law's start"
    assert wall.time() < hours[1], "called after the law's end"
    assert not law_bans_holiday(s.jurisdiction, wall.date()), "called on a banned holiday"


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS + ["CA-QC", "XX-YY", "US-ZZ"])
def test_every_jurisdiction_is_at_least_as_strict_as_the_08_to_21_floor(jurisdiction):
    for day in (date(2020, 1, 6), date(2026, 11, 29), date(2035, 12, 31)):
        for span in legal_rule(jurisdiction, day).hours:
            assert span is None or (span[0] >= time(8, 0) and span[1] <= time(21, 0))


def _day_opening_instants(s: Scenario, first: date, last: date):
    """For each local day, the instant its window would open (the only place an opening can be)."""
    day = first
    while day <= last:
        yield at_local(s.zone, day, effective_bounds(s.policy, s.jurisdiction, day)[0])
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


BLACKOUT_CODES = ["*", "US", "US-LA", "US-FL", "US-GA", "CA", "GB", "US-TX"]


@st.composite
def blackouts_around(draw, instant: datetime) -> list[Blackout]:
    """Declared blackouts that started before ``instant``, start after it, or are already over."""
    result = []
    for _ in range(draw(st.integers(0, 3))):
        starts = instant + timedelta(minutes=draw(st.integers(-24 * 60, 24 * 60)))
        ends = starts + timedelta(minutes=draw(st.integers(1, 48 * 60)))
        result.append(Blackout(draw(st.sampled_from(BLACKOUT_CODES)), starts, ends, "declared"))
    return result


def blackout_covers(code: str, jurisdiction: str) -> bool:
    return code == "*" or any(part == code or part.split("-")[0] == code for part in jurisdiction.split("+"))


@PROPERTY
@given(
    policy=st.builds(WindowPolicy, window=campaign_windows(), skip_public_holidays=st.booleans()),
    pairs=st.lists(st.tuples(st.sampled_from(ZONES), st.sampled_from(JURISDICTIONS)), max_size=10),
    instant=st.one_of(random_instants, st.sampled_from(TRANSITIONS).map(lambda zt: zt[1])),
    data=st.data(),
)
def test_open_keys_are_exactly_the_keys_open_now_and_not_blacked_out_each_with_its_close(policy, pairs, instant, data):
    blackouts = data.draw(blackouts_around(instant))
    keys = [window_key(zone, jurisdiction) for zone, jurisdiction in pairs]
    opened = open_keys(policy, keys, instant, blackouts=blackouts)

    def blacked_out(jurisdiction, at):
        return any(b.starts_at <= at < b.ends_at and blackout_covers(b.jurisdiction, jurisdiction) for b in blackouts)

    assert set(opened) == {
        k for k in keys if expected_open(policy, *split_key(k), instant) and not blacked_out(split_key(k)[1], instant)
    }
    for key, closes in opened.items():
        zone, jurisdiction = split_key(key)
        window_close = policy.closes_at(zone, jurisdiction, instant)
        starts = [
            b.starts_at
            for b in blackouts
            if blackout_covers(b.jurisdiction, jurisdiction) and instant < b.starts_at < window_close
        ]
        assert closes == min([window_close, *starts])


@given(st.sampled_from(ZONES + ["America/Argentina/Buenos_Aires"]), st.sampled_from(JURISDICTIONS))
def test_a_window_key_splits_back_into_its_zone_and_jurisdiction(zone, jurisdiction):
    assert split_key(window_key(zone, jurisdiction)) == (zone, jurisdiction)


# --------------------------------------------------------------------------------------------
# One test per rule family, named as the rule
# --------------------------------------------------------------------------------------------

NY, CHICAGO, TORONTO = "America/New_York", "America/Chicago", "America/Toronto"
LOS_ANGELES, DENVER = "America/Los_Angeles", "America/Denver"
EVENINGS = WindowPolicy(window=CallingWindow(time(8), time(21)))
WHOLE_DAY = WindowPolicy(window=CallingWindow(time(0), time(23, 59)), skip_public_holidays=False)
WEDNESDAY_2026_06_10 = date(2026, 6, 10)
SATURDAY_2026_06_13 = date(2026, 6, 13)
SUNDAY_2026_06_14 = date(2026, 6, 14)
THANKSGIVING_2026 = date(2026, 11, 26)


def test_the_us_federal_floor_is_08_00_to_21_00_every_day_with_no_day_bans():
    rule = legal_rule("US", WEDNESDAY_2026_06_10)
    assert rule == LegalRule(hours=((time(8), time(21)),) * 7)
    assert (rule.start, rule.end, rule.no_sunday, rule.no_holidays, rule.max_attempts_24h) == (
        time(8),
        time(21),
        False,
        False,
        None,
    )


def test_texas_hours_by_weekday_are_09_to_21_monday_to_saturday_and_noon_to_21_on_sunday():
    assert WHOLE_DAY.is_open(CHICAGO, "US-TX", at_local(CHICAGO, SATURDAY_2026_06_13, time(9)))
    assert not WHOLE_DAY.is_open(CHICAGO, "US-TX", at_local(CHICAGO, WEDNESDAY_2026_06_10, time(8, 30)))
    assert not WHOLE_DAY.is_open(CHICAGO, "US-TX", at_local(CHICAGO, SUNDAY_2026_06_14, time(10)))
    assert WHOLE_DAY.next_opening(CHICAGO, "US-TX", at_local(CHICAGO, SUNDAY_2026_06_14, time(10))) == at_local(
        CHICAGO, SUNDAY_2026_06_14, time(12)
    )
    assert WHOLE_DAY.closes_at(CHICAGO, "US-TX", at_local(CHICAGO, SUNDAY_2026_06_14, time(12))) == at_local(
        CHICAGO, SUNDAY_2026_06_14, time(21)
    )


def test_washington_calls_end_at_20_00():
    assert WHOLE_DAY.closes_at(LOS_ANGELES, "US-WA", at_local(LOS_ANGELES, WEDNESDAY_2026_06_10, time(19))) == at_local(
        LOS_ANGELES, WEDNESDAY_2026_06_10, time(20)
    )


def test_canada_calls_run_09_00_to_21_00_on_weekdays_and_10_00_to_18_00_at_weekends():
    # The CRTC allows weekdays until 21:30; the product's own floor ends every day at 21:00.
    assert WHOLE_DAY.closes_at(TORONTO, "CA", at_local(TORONTO, WEDNESDAY_2026_06_10, time(9))) == at_local(
        TORONTO, WEDNESDAY_2026_06_10, time(21)
    )
    assert not WHOLE_DAY.is_open(TORONTO, "CA", at_local(TORONTO, SATURDAY_2026_06_13, time(9, 30)))
    assert WHOLE_DAY.closes_at(TORONTO, "CA", at_local(TORONTO, SATURDAY_2026_06_13, time(10))) == at_local(
        TORONTO, SATURDAY_2026_06_13, time(18)
    )


def test_a_sunday_ban_closes_utah_all_sunday_and_it_reopens_monday_at_08_00():
    sunday_noon = at_local(DENVER, SUNDAY_2026_06_14, time(12))
    assert not WHOLE_DAY.is_open(DENVER, "US-UT", sunday_noon)
    assert WHOLE_DAY.is_open(DENVER, "US", sunday_noon)
    assert WHOLE_DAY.next_opening(DENVER, "US-UT", sunday_noon) == at_local(DENVER, date(2026, 6, 15), time(8))


@pytest.mark.parametrize("state", ["US-AL", "US-LA", "US-MS", "US-RI"])
def test_alabama_louisiana_mississippi_and_rhode_island_contacts_are_never_called_on_sunday(state):
    sunday_noon = at_local(CHICAGO, SUNDAY_2026_06_14, time(12))
    assert not WHOLE_DAY.is_open(CHICAGO, state, sunday_noon)
    assert legal_rule(state, SUNDAY_2026_06_14).no_sunday


def test_a_holiday_ban_closes_utah_on_pioneer_day_even_with_a_holiday_override_for_it():
    pioneer_day = date(2026, 7, 24)  # a Friday; a Utah legal holiday only
    noon = at_local(DENVER, pioneer_day, time(12))
    for skip in (True, False):
        policy = WindowPolicy(skip_public_holidays=skip, holiday_overrides=frozenset({pioneer_day}))
        assert not policy.is_open(DENVER, "US-UT", noon)
        assert policy.is_open(DENVER, "US-CO", noon), "not a holiday in Colorado"


def test_alabama_and_louisiana_are_closed_on_thanksgiving_and_mississippi_since_its_repeal_is_not():
    noon = at_local(CHICAGO, THANKSGIVING_2026, time(12))
    for skip in (True, False):
        policy = WindowPolicy(skip_public_holidays=skip, holiday_overrides=frozenset({THANKSGIVING_2026}))
        assert not policy.is_open(CHICAGO, "US-AL", noon)
        assert not policy.is_open(CHICAGO, "US-LA", noon)
        assert policy.is_open(CHICAGO, "US-MS", noon)


@pytest.mark.parametrize("state", ["US-FL", "US-OK", "US-MD"])
def test_a_cap_of_3_attempts_per_number_in_24_hours_holds_in_florida_oklahoma_and_maryland(state):
    assert legal_rule(state, WEDNESDAY_2026_06_10).max_attempts_24h == 3
    assert legal_rule(f"{state}+US-NY", WEDNESDAY_2026_06_10).max_attempts_24h == 3, "an address state's cap holds"
    assert legal_rule("US-NY", WEDNESDAY_2026_06_10).max_attempts_24h is None


def test_the_lowest_cap_of_every_jurisdiction_that_applies_holds():
    assert legal_rule("US-FL+US-ME", WEDNESDAY_2026_06_10).max_attempts_24h == 1


def test_oklahomas_act_takes_effect_on_1_november_2022_and_not_a_day_before():
    # Before the act, Oklahoma's recorded-message rule allowed calls until 21:00; from 1 Nov 2022, 20:00.
    before, after = date(2022, 10, 31), date(2022, 11, 1)
    assert WHOLE_DAY.is_open(CHICAGO, "US-OK", at_local(CHICAGO, before, time(20, 30)))
    assert not WHOLE_DAY.is_open(CHICAGO, "US-OK", at_local(CHICAGO, after, time(20, 30)))
    assert legal_rule("US-OK", before).max_attempts_24h is None
    assert legal_rule("US-OK", after).max_attempts_24h == 3


@pytest.mark.parametrize("state, since", [("US-FL", date(2021, 7, 1)), ("US-MD", date(2024, 1, 1))])
def test_florida_and_maryland_end_at_20_00_from_the_day_their_laws_took_effect(state, since):
    day_before = since - timedelta(days=1)
    assert WHOLE_DAY.is_open(NY, state, at_local(NY, day_before, time(20, 30)))
    assert not WHOLE_DAY.is_open(NY, state, at_local(NY, since, time(20, 30)))


@pytest.mark.parametrize("state", ["US-NY", "US-VA", "US-TN", "US-MO", "US-NJ"])
def test_new_york_virginia_tennessee_missouri_and_new_jersey_allow_calls_from_08_00_until_21_00(state):
    # N.Y. Gen. Bus. Law 399-z(2); Va. Code 59.1-511; Tenn. Comp. R. & Regs. 1220-04-11-.02(1);
    # Mo. Rev. Stat. 407.1076(5); N.J.S.A. 56:8-128(d). Their neighbours' shorter hours no longer apply.
    for day in (WEDNESDAY_2026_06_10, SATURDAY_2026_06_13, SUNDAY_2026_06_14):
        assert WHOLE_DAY.is_open(NY, state, at_local(NY, day, time(8)))
        assert WHOLE_DAY.closes_at(NY, state, at_local(NY, day, time(20, 30))) == at_local(NY, day, time(21))
        assert not WHOLE_DAY.is_open(NY, state, at_local(NY, day, time(7, 59)))


def test_maine_is_called_on_weekdays_from_09_00_until_17_00_and_never_at_weekends():
    # 10 M.R.S. 1498(3): automated calling devices only on weekdays between 9 a.m. and 5 p.m.
    assert WHOLE_DAY.is_open(NY, "US-ME", at_local(NY, WEDNESDAY_2026_06_10, time(9)))
    assert WHOLE_DAY.closes_at(NY, "US-ME", at_local(NY, WEDNESDAY_2026_06_10, time(16))) == at_local(
        NY, WEDNESDAY_2026_06_10, time(17)
    )
    for day in (SATURDAY_2026_06_13, SUNDAY_2026_06_14):
        assert not WHOLE_DAY.is_open(NY, "US-ME", at_local(NY, day, time(12)))
    assert WHOLE_DAY.next_opening(NY, "US-ME", at_local(NY, SATURDAY_2026_06_13, time(12))) == at_local(
        NY, date(2026, 6, 15), time(9)
    )
    assert legal_rule("US-ME", WEDNESDAY_2026_06_10).max_attempts_24h == 1


def test_texas_sb_140_is_dated_1_september_2025_and_keeps_the_hours_of_section_301_051():
    texas = [e for e in cw.ENTRIES if e.jurisdiction == "US-TX"]
    assert sorted(((e.effective_from, e.until) for e in texas), key=lambda span: span[0] or date.min) == [
        (None, date(2025, 9, 1)),
        (date(2025, 9, 1), None),
    ]
    for day in (date(2025, 8, 31), date(2025, 9, 1)):
        assert [e.until for e in cw.entries_in_force("US-TX", day) if e.jurisdiction == "US-TX"] == (
            [date(2025, 9, 1)] if day < date(2025, 9, 1) else [None]
        )
    assert legal_rule("US-TX", date(2025, 8, 31)).hours == legal_rule("US-TX", date(2025, 9, 7)).hours


def test_a_law_can_be_loaded_before_its_date_and_applies_only_from_it():
    # Every entry with a future effective date is inert until then; today's rule ignores it.
    future = [e for e in cw.ENTRIES if e.effective_from and e.effective_from > date(2026, 11, 29)]
    for entry in future:
        assert entry not in cw.entries_in_force(entry.jurisdiction, entry.effective_from - timedelta(days=1))
        assert entry in cw.entries_in_force(entry.jurisdiction, entry.effective_from)


def test_a_number_in_florida_with_a_georgia_address_gets_the_strictest_of_both():
    rule = legal_rule("US-FL+US-GA", WEDNESDAY_2026_06_10)
    assert (rule.start, rule.end, rule.max_attempts_24h) == (time(8), time(20), 3)


def test_a_toronto_number_with_a_florida_address_gets_canadas_and_floridas_rules():
    wednesday_20_59 = at_local(TORONTO, WEDNESDAY_2026_06_10, time(20, 59))
    assert WHOLE_DAY.is_open(TORONTO, "CA", wednesday_20_59)
    assert not WHOLE_DAY.is_open(TORONTO, "CA+US-FL", wednesday_20_59)
    assert not WHOLE_DAY.is_open(TORONTO, "CA+US-FL", at_local(TORONTO, SATURDAY_2026_06_13, time(18, 30)))
    assert legal_rule("CA+US-FL", WEDNESDAY_2026_06_10).max_attempts_24h == 3


def test_a_uk_number_with_an_alabama_address_is_not_called_on_sunday_or_on_thanksgiving():
    london = "Europe/London"
    assert not WHOLE_DAY.is_open(london, "GB+US-AL", at_local(london, SUNDAY_2026_06_14, time(12)))
    assert not WHOLE_DAY.is_open(london, "GB+US-AL", at_local(london, THANKSGIVING_2026, time(12)))
    assert WHOLE_DAY.is_open(london, "GB", at_local(london, THANKSGIVING_2026, time(12)))


def test_texas_and_washington_together_allow_noon_to_20_00_on_sunday():
    sunday = legal_rule("US-TX+US-WA", SUNDAY_2026_06_14).hours_on(SUNDAY)
    assert sunday == (time(12), time(20))


def test_an_emergency_blackout_closes_every_key_of_its_jurisdiction_and_of_composites_with_it():
    instant = at_local(CHICAGO, WEDNESDAY_2026_06_10, time(12))
    blackout = Blackout("US-LA", instant - timedelta(hours=1), instant + timedelta(days=3), "Hurricane")
    keys = [window_key(CHICAGO, j) for j in ("US-LA", "US-LA+US-TX", "US-TX", "US")]
    opened = open_keys(WHOLE_DAY, keys, instant, blackouts=[blackout])
    assert set(opened) == {window_key(CHICAGO, "US-TX"), window_key(CHICAGO, "US")}
    # when it ends (a Saturday noon), Louisiana is open again
    assert window_key(CHICAGO, "US-LA") in open_keys(WHOLE_DAY, keys, blackout.ends_at, blackouts=[blackout])


def test_louisiana_records_that_its_law_bans_calls_during_a_declared_emergency():
    assert legal_rule("US-LA", WEDNESDAY_2026_06_10).emergency_ban
    assert not legal_rule("US-TX", WEDNESDAY_2026_06_10).emergency_ban


# --------------------------------------------------------------------------------------------
# Named examples
# --------------------------------------------------------------------------------------------


def test_florida_contact_is_not_callable_at_20_30_local_while_a_federal_only_number_is():
    at_20_30_edt = at_local(NY, WEDNESDAY_2026_06_10, time(20, 30))
    assert at_20_30_edt == datetime(2026, 6, 11, 0, 30, tzinfo=UTC)
    assert not EVENINGS.is_open(NY, "US-FL", at_20_30_edt)
    assert EVENINGS.closes_at(NY, "US", at_20_30_edt) == datetime(2026, 6, 11, 1, 0, tzinfo=UTC)


def test_florida_window_closes_at_20_00_local_even_when_the_campaign_runs_until_21_00():
    at_19_00_edt = at_local(NY, WEDNESDAY_2026_06_10, time(19))
    assert EVENINGS.closes_at(NY, "US-FL", at_19_00_edt) == datetime(2026, 6, 11, 0, 0, tzinfo=UTC)
    assert not EVENINGS.is_open(NY, "US-FL", datetime(2026, 6, 11, 0, 0, tzinfo=UTC))


def test_no_contact_anywhere_is_called_at_21_00_local_or_before_08_00_local():
    whole_day = WindowPolicy(window=CallingWindow(time(0), time(23, 59)))
    for jurisdiction in JURISDICTIONS:
        assert not whole_day.is_open(NY, jurisdiction, at_local(NY, WEDNESDAY_2026_06_10, time(21)))
        assert not whole_day.is_open(NY, jurisdiction, at_local(NY, WEDNESDAY_2026_06_10, time(7, 59, 59)))
    assert whole_day.is_open(NY, "US", at_local(NY, WEDNESDAY_2026_06_10, time(8)))


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


@pytest.mark.parametrize(
    "zone, day, opens, closes",
    [
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
    ],
)
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
    monkeypatch.setattr(
        cw, "legal_rule", lambda j, on=None: LegalRule(hours=(ALL_DAY,) * 7) if j == "XX-NIGHT" else real(j, on)
    )
    return "XX-NIGHT"


SPRING_FORWARD = date(2026, 3, 8)  # New York: 02:00 EST (07:00Z) -> 03:00 EDT
FALL_BACK = date(2026, 11, 1)  # New York: 02:00 EDT (06:00Z) -> 01:00 EST; 01:xx happens twice
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
    edge = st.one_of(st.sampled_from([m for m in near if 0 <= m <= 23 * 60 + 59]), st.integers(0, 23 * 60 + 59))
    start, end = sorted(draw(st.lists(edge, min_size=2, max_size=2, unique=True)))
    policy = WindowPolicy(window=CallingWindow(_hhmm(start), _hhmm(end)), skip_public_holidays=False)
    return policy, zone, transition + draw(SMALL_OFFSETS)


def _first_reading(instant: datetime, zone: str, wall: time) -> bool:
    """``instant`` is when the clock first reads ``wall``, or jumps past it over a gap."""
    now = local(zone, instant).replace(tzinfo=None)
    before = local(zone, instant - timedelta(microseconds=1)).replace(tzinfo=None)
    return any(
        now == datetime.combine(day, wall) or before < datetime.combine(day, wall) < now
        for day in {now.date(), before.date()}
    )


@PROPERTY
@given(night_scenarios())
def test_without_a_floor_an_open_window_stays_open_until_a_future_close_and_never_reopens_that_day(case):
    policy, zone, instant = case
    with pytest.MonkeyPatch.context() as patch:
        real = cw.legal_rule
        patch.setattr(
            cw, "legal_rule", lambda j, on=None: LegalRule(hours=(ALL_DAY,) * 7) if j == "XX-NIGHT" else real(j, on)
        )
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
        patch.setattr(
            cw, "legal_rule", lambda j, on=None: LegalRule(hours=(ALL_DAY,) * 7) if j == "XX-NIGHT" else real(j, on)
        )
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
