"""Calling windows: when a contact may be dialed, in their own local time.

A contact is callable at an instant when, in every time zone their number may ring in, the
local time is inside the campaign's window *and* inside the legal floor of their
jurisdiction, on an allowed day that is not a holiday or blackout date. The rules are
evaluated once per distinct (zone, jurisdiction) pair, a *window key*, so dispatch can filter
a million contacts in SQL with the handful of keys that are open now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SUNDAY = 6
LEGAL_HOURS_FILE = Path(__file__).with_name("legal_hours.json")


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
    def from_config(cls, raw: dict | None) -> "CallingWindow":
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
        return cls(start, end, frozenset(indexes))


FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day_index(name: object) -> int | None:
    """'mon' or 'Monday' to 0; anything else (say 'monkey') to None."""
    key = str(name).strip().lower()
    for names in (DAYS, FULL_DAY_NAMES):
        if key in names:
            return names.index(key)
    return None


@dataclass(frozen=True)
class LegalRule:
    start: time
    end: time
    no_sunday: bool = False
    no_holidays: bool = False
    max_attempts_24h: int | None = None


@lru_cache(maxsize=1)
def _legal_table() -> dict[str, dict]:
    return {k: v for k, v in json.loads(LEGAL_HOURS_FILE.read_text()).items() if not k.startswith("_")}


@lru_cache(maxsize=None)
def legal_rule(jurisdiction: str) -> LegalRule:
    """The floor for a jurisdiction: '*' tightened by its country, then by its state."""
    table = _legal_table()
    country = jurisdiction.split("-")[0]
    layers = [table["*"]] + [table[k] for k in dict.fromkeys((country, jurisdiction)) if k in table]
    start, end = time(0, 0), time(23, 59, 59)
    no_sunday = no_holidays = False
    cap: int | None = None
    for layer in layers:
        if "start" in layer:
            start = max(start, parse_hhmm(layer["start"]))
        if "end" in layer:
            end = min(end, parse_hhmm(layer["end"]))
        no_sunday |= bool(layer.get("no_sunday"))
        no_holidays |= bool(layer.get("no_holidays"))
        if layer.get("max_attempts_24h") is not None:
            cap = min(cap, layer["max_attempts_24h"]) if cap is not None else layer["max_attempts_24h"]
    return LegalRule(start, end, no_sunday, no_holidays, cap)


@lru_cache(maxsize=4096)
def _is_public_holiday(jurisdiction: str, day: date) -> bool:
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
class WindowPolicy:
    """Everything a campaign says about when to call, on top of the legal floor."""

    window: CallingWindow = CallingWindow()
    blackout_dates: frozenset[date] = frozenset()
    skip_public_holidays: bool = True
    holiday_overrides: frozenset[date] = field(default=frozenset())  # public holidays we may call on

    def day_window(self, jurisdiction: str, day: date) -> tuple[time, time] | None:
        """The local [start, end) callable on ``day``, or None when the whole day is closed."""
        rule = legal_rule(jurisdiction)
        weekday = day.weekday()
        if weekday not in self.window.days or (rule.no_sunday and weekday == SUNDAY):
            return None
        if day in self.blackout_dates:
            return None
        if rule.no_holidays and _is_public_holiday(jurisdiction, day):
            return None  # a legal ban: no override reopens it
        if (self.skip_public_holidays and day not in self.holiday_overrides
                and _is_public_holiday(jurisdiction, day)):
            return None
        start, end = max(self.window.start, rule.start), min(self.window.end, rule.end)
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
    first, second = (datetime.combine(day, wall, tzinfo=tz).replace(fold=f).astimezone(timezone.utc)
                     for f in (0, 1))
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


def open_keys(policy: WindowPolicy, keys: set[str] | list[str], instant: datetime) -> dict[str, datetime]:
    """The keys open at ``instant``, each with the instant its window closes."""
    result = {}
    for key in keys:
        closes = policy.closes_at(*split_key(key), instant)
        if closes is not None:
            result[key] = closes
    return result
