"""Calling windows: when a contact may be dialed, in their own local time.

A contact is callable at an instant when, in every time zone their number may ring in, the
local time is inside the campaign's window *and* inside the legal floor of every jurisdiction
whose law applies to them (``include/campaigns/rules``: hours per weekday, day and holiday bans,
caps, each dated and sourced), on an allowed day that is not a holiday or blackout date, and
no declared blackout covers any of those jurisdictions. The rules are
evaluated once per distinct (zone, jurisdiction) pair, a *window key*, so dispatch can filter
a million contacts in SQL with the handful of keys that are open now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

# Read and checked at import: malformed rules fail here, never halfway through a dispatch.
from include.campaigns.rules import ENTRIES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUNDAY = 6


def parse_hhmm(value: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"{value!r} is not a HH:MM time") from None


@dataclass(frozen=True)
class CallingWindow:
    """The campaign's window: local start/end times on some days of the week."""

    start: time = time(9, 0)
    end: time = time(20, 0)
    days: frozenset[int] = frozenset(range(7))

    @classmethod
    def from_config(cls, raw: dict | None) -> CallingWindow:
        raw = raw or {}
        start = parse_hhmm(raw.get("start", "09:00"))
        end = parse_hhmm(raw.get("end", "20:00"))
        if end <= start:
            raise ValueError(f"calling window end {end:%H:%M} is not after its start {start:%H:%M}")
        day_names = raw.get("days", list(DAYS))
        if not isinstance(day_names, list):
            raise ValueError(f"calling window days must be a list of {DAYS}, got {day_names!r}")
        indexes = [_day_index(d) for d in day_names]
        if None in indexes or not day_names:
            raise ValueError(f"calling window days must be a non-empty subset of {DAYS}, got {day_names!r}")
        return cls(start, end, frozenset(i for i in indexes if i is not None))


FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day_index(name: object) -> int | None:
    """'mon' or 'Monday' to 0; anything else (say 'monkey') to None."""
    key = str(name).strip().lower()
    for names in (DAYS, FULL_DAY_NAMES):
        if key in names:
            return names.index(key)
    return None


ALL_DAY = (time(0, 0), time(23, 59, 59))


@dataclass(frozen=True)
class LegalRule:
    """The legal floor in force on one day for one jurisdiction (or several at once, merged).

    ``hours`` is Monday..Sunday local [start, end), None for a day the law closes entirely;
    ``holiday_calendars`` are the ``holidays`` calendars whose days the law bans.
    """

    hours: tuple[tuple[time, time] | None, ...] = (ALL_DAY,) * 7
    holiday_calendars: frozenset[str] = frozenset()
    max_attempts_24h: int | None = None
    emergency_ban: bool = False

    def hours_on(self, weekday: int) -> tuple[time, time] | None:
        return self.hours[weekday]

    # One pair of hours for callers that need a single window: the strictest over the open days.
    @property
    def start(self) -> time:
        return max((h[0] for h in self.hours if h), default=ALL_DAY[1])

    @property
    def end(self) -> time:
        return min((h[1] for h in self.hours if h), default=ALL_DAY[0])

    @property
    def no_sunday(self) -> bool:
        return self.hours[SUNDAY] is None

    @property
    def no_holidays(self) -> bool:
        return bool(self.holiday_calendars)


def jurisdiction_parts(jurisdiction: str) -> tuple[str, ...]:
    """'US-FL+US-GA' to ('US-FL', 'US-GA'): every jurisdiction whose law applies at once."""
    return tuple(jurisdiction.split("+"))


def composite_jurisdiction(parts) -> str:
    """The canonical key of jurisdictions that all apply: sorted, unique, and without a country
    when one of its subdivisions is there (a state's rules already include its country's)."""
    unique = set(p for p in parts if p)
    kept = {p for p in unique if "-" in p or not any(q.startswith(p + "-") for q in unique)}
    return "+".join(sorted(kept))


@lru_cache(maxsize=1)
def _entries_by_code() -> dict[str, tuple]:
    table: dict[str, list] = {}
    for entry in ENTRIES:
        table.setdefault(entry.jurisdiction, []).append(entry)
    return {code: tuple(entries) for code, entries in table.items()}


def entries_in_force(jurisdiction: str, on: date) -> tuple:
    """The rules entries that bind a call to ``jurisdiction`` on local day ``on``: the '*' floor,
    then each part's country, then the part itself, each as in force that day."""
    table = _entries_by_code()
    codes: dict[str, None] = {"*": None}
    for part in jurisdiction_parts(jurisdiction):
        codes.update({part.split("-")[0]: None, part: None})
    return tuple(e for code in codes for e in table.get(code, ()) if e.in_force(on))


def legal_rule(jurisdiction: str, on: date | None = None) -> LegalRule:
    """The floor for a jurisdiction on a day (today, UTC, by default): every entry in force for it,
    merged to the strictest: the latest start and earliest end per weekday, any day ban, any
    holiday calendar, the lowest cap."""
    return _legal_rule(jurisdiction, on or datetime.now(timezone.utc).date())


@lru_cache(maxsize=65536)
def _legal_rule(jurisdiction: str, on: date) -> LegalRule:
    hours: list[tuple[time, time] | None] = [ALL_DAY] * 7
    calendars: set[str] = set()
    cap: int | None = None
    emergency = False
    for entry in entries_in_force(jurisdiction, on):
        for day, index in zip(DAYS, range(7)):
            if day in entry.hours:
                hours[index] = _tighten(hours[index], entry.hours[day].times() if entry.hours[day] else None)
        if entry.sunday_ban:
            hours[SUNDAY] = None
        if entry.holiday_ban:
            calendars.add(entry.holiday_calendar)
        if entry.cap is not None:
            cap = entry.cap.attempts if cap is None else min(cap, entry.cap.attempts)
        emergency |= entry.emergency_ban
    return LegalRule(tuple(hours), frozenset(calendars), cap, emergency)


def _tighten(current: tuple[time, time] | None, other: tuple[time, time] | None) -> tuple[time, time] | None:
    if current is None or other is None:
        return None
    start, end = max(current[0], other[0]), min(current[1], other[1])
    return (start, end) if start < end else None


@lru_cache(maxsize=4096)
def _is_public_holiday(jurisdiction: str, day: date) -> bool:
    """Whether ``day`` is a public holiday in a calendar: 'US-LA' (a state's) or 'GB' (a country's)."""
    import holidays

    country, _, subdiv = jurisdiction.partition("-")
    try:
        calendar = holidays.country_holidays(country, subdiv=subdiv or None, years=day.year)
    except NotImplementedError:
        try:
            calendar = holidays.country_holidays(country, years=day.year)
        except NotImplementedError:
            return False
    return day in calendar


@dataclass(frozen=True)
class Blackout:
    """A declared period when no call may reach a jurisdiction (an emergency, say). One declared
    for a country covers its subdivisions; one for '*' covers every number."""

    jurisdiction: str
    starts_at: datetime
    ends_at: datetime
    reason: str = ""

    def covers(self, jurisdiction: str) -> bool:
        code = self.jurisdiction
        return code == "*" or any(
            part == code or part.startswith(code + "-") for part in jurisdiction_parts(jurisdiction)
        )


@dataclass(frozen=True)
class WindowPolicy:
    """Everything a campaign says about when to call, on top of the legal floor."""

    window: CallingWindow = CallingWindow()
    blackout_dates: frozenset[date] = frozenset()
    skip_public_holidays: bool = True
    holiday_overrides: frozenset[date] = field(default=frozenset())  # public holidays we may call on

    def day_window(self, jurisdiction: str, day: date) -> tuple[time, time] | None:
        """The local [start, end) callable on ``day``, or None when the whole day is closed."""
        rule = legal_rule(jurisdiction, day)
        weekday = day.weekday()
        legal = rule.hours_on(weekday)
        if weekday not in self.window.days or legal is None:
            return None
        if day in self.blackout_dates:
            return None
        if any(_is_public_holiday(calendar, day) for calendar in rule.holiday_calendars):
            return None  # a legal ban: no override reopens it
        if (
            self.skip_public_holidays
            and day not in self.holiday_overrides
            and any(_is_public_holiday(part, day) for part in jurisdiction_parts(jurisdiction))
        ):
            return None
        start, end = max(self.window.start, legal[0]), min(self.window.end, legal[1])
        return (start, end) if start < end else None

    def interval(self, zone: str, jurisdiction: str, day: date) -> tuple[datetime, datetime] | None:
        """The real instants [open, close) of ``day``'s window in ``zone``, or None if closed all day.

        Each bound is the first instant the local clock reads that wall time: a bound that repeats
        (the fall-back hour) counts once, at its first pass; a bound inside a spring-forward gap
        is the instant the clock jumps past it. So a window never reopens in a repeated hour, and
        never opens or closes at a wall time that does not exist.
        """
        bounds = self.day_window(jurisdiction, day)
        if bounds is None:
            return None
        tz = ZoneInfo(zone)
        opens, closes = (first_instant(day, wall, tz) for wall in bounds)
        return (opens, closes) if opens < closes else None

    def closes_at(self, zone: str, jurisdiction: str, instant: datetime) -> datetime | None:
        """When the window open at ``instant`` closes (UTC), or None if it is closed now."""
        day = instant.astimezone(ZoneInfo(zone)).date()
        span = self.interval(zone, jurisdiction, day)
        if span is None or not (span[0] <= instant < span[1]):
            return None
        return span[1]

    def is_open(self, zone: str, jurisdiction: str, instant: datetime) -> bool:
        return self.closes_at(zone, jurisdiction, instant) is not None

    def closed_reason(self, zone: str, jurisdiction: str, instant: datetime) -> str | None:
        """Why a contact cannot be called at ``instant``: 'legal_hours' when the law alone forbids
        it, 'outside_window' when the campaign's own window does; None when it is open."""
        if self.is_open(zone, jurisdiction, instant):
            return None
        return "outside_window" if LEGAL_ONLY.is_open(zone, jurisdiction, instant) else "legal_hours"

    def next_opening(self, zone: str, jurisdiction: str, after: datetime, horizon_days: int = 14) -> datetime | None:
        """The first instant at or after ``after`` when the window is open, within a horizon."""
        if self.is_open(zone, jurisdiction, after):
            return after
        local_day = after.astimezone(ZoneInfo(zone)).date()
        for offset in range(horizon_days + 1):
            span = self.interval(zone, jurisdiction, local_day + timedelta(days=offset))
            if span is not None and span[0] >= after:
                return span[0]
        return None


# The legal floor alone: every day, all day, as far as the campaign is concerned.
LEGAL_ONLY = WindowPolicy(window=CallingWindow(time(0, 0), time(23, 59, 59)), skip_public_holidays=False)


def first_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the clock in ``tz`` reads ``wall`` on ``day``, or, when
    that wall time falls in a gap, the instant the clock jumps past it."""
    first, second = (datetime.combine(day, wall, tzinfo=tz).replace(fold=f).astimezone(timezone.utc) for f in (0, 1))
    earlier, later = min(first, second), max(first, second)
    if earlier.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, wall):
        return earlier  # exists: once, or twice in a repeated hour (the first pass wins)
    # In a gap the two readings straddle the transition; offsets change on whole seconds.
    lo, hi = int(earlier.timestamp()), int(later.timestamp())
    offset_before = earlier.astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, timezone.utc).astimezone(tz).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, timezone.utc)


def window_key(zone: str, jurisdiction: str) -> str:
    return f"{zone}|{jurisdiction}"


def split_key(key: str) -> tuple[str, str]:
    zone, _, jurisdiction = key.partition("|")
    return zone, jurisdiction


def open_keys(
    policy: WindowPolicy, keys: set[str] | list[str], instant: datetime, blackouts: Iterable[Blackout] = ()
) -> dict[str, datetime]:
    """The keys open at ``instant``, each with the instant its window closes.

    A key is closed while a blackout covers any of its jurisdictions, and one that starts before
    the window's close brings the close forward to its start.
    """
    blackouts = [b for b in blackouts if b.ends_at > instant]
    result = {}
    for key in keys:
        zone, jurisdiction = split_key(key)
        closes = policy.closes_at(zone, jurisdiction, instant)
        if closes is None:
            continue
        ahead = [b.starts_at for b in blackouts if b.starts_at < closes and b.covers(jurisdiction)]
        if any(start <= instant for start in ahead):
            continue
        result[key] = min([closes, *ahead])
    return result


@dataclass(frozen=True)
class LockoutRule:
    """No redial for ``hours`` after an outcome and, with ``rest_of_local_day``, not again on
    the called party's local day of it either."""

    hours: int = 0
    rest_of_local_day: bool = False

    def until(self, zone: str, instant: datetime) -> datetime | None:
        ends = [instant + timedelta(hours=self.hours)] if self.hours else []
        if self.rest_of_local_day:
            local = instant.astimezone(ZoneInfo(zone))
            midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
            ends.append(midnight.astimezone(timezone.utc))
        return max(ends) if ends else None


def lockout_until(
    zone: str, jurisdiction: str, outcome: str, instant: datetime, campaign: LockoutRule | None = None
) -> datetime | None:
    """The first instant a number of ``jurisdiction`` ringing in ``zone`` may be dialed again after
    ``outcome`` at ``instant``: the latest end of every lockout in force there and the campaign's
    own (which can only add to them), or None when nothing locks it out."""
    day = instant.astimezone(ZoneInfo(zone)).date()
    rules = [
        LockoutRule(e.lockouts[outcome].hours, e.lockouts[outcome].rest_of_local_day)
        for e in entries_in_force(jurisdiction, day)
        if outcome in e.lockouts
    ]
    if campaign is not None:
        rules.append(campaign)
    ends = [end for rule in rules if (end := rule.until(zone, instant)) is not None]
    return max(ends) if ends else None


@dataclass(frozen=True)
class AbandonLimit:
    max_rate: float
    window_days: int
    citation: str


def abandon_limit(jurisdictions: Iterable[str], on: date) -> AbandonLimit | None:
    """The strictest limit on a campaign's abandonment rate among the jurisdictions its contacts
    are in (the lowest rate; of equal rates, the longest window), or None when none sets one."""
    limits = {
        AbandonLimit(
            e.abandon_rate.max_rate,
            e.abandon_rate.window_days,
            e.source.citation if e.abandon_rate.source is None else e.abandon_rate.source.citation,
        )
        for j in set(jurisdictions) | {"*"}
        for e in entries_in_force(j, on)
        if e.abandon_rate
    }
    return min(limits, key=lambda limit: (limit.max_rate, -limit.window_days, limit.citation)) if limits else None
