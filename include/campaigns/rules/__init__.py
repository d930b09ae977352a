"""The legal calling rules as sourced, dated data, and the strict loader that reads them.

Each ``<country>.json`` beside this module is a list of entries. An entry is one jurisdiction's
rule over a span of dates: its hours per day of the week (local to the called party), whether it
bans Sundays, public holidays (and in which ``holidays`` calendar) or calls during declared
emergencies, its attempt cap, its lockouts (no redial for a while after an ``abandoned`` or ``machine`` outcome, each with
its own source), its limit on a campaign's abandonment rate, the dates it is in force, and
where it comes from. ``kind`` says
whether the entry is the law (``statute``: an act or a regulation made under one) or a
deliberate choice stricter than the law (``conservative``); ``verified`` is false where the text
of the law itself could not be read, and such an entry keeps to the safe side.

The files are read once, at import: an unknown key, a malformed jurisdiction, time or date, two
entries of one jurisdiction in force on the same day, or a ban without its calendar raises
:class:`RulesError` naming the file and the entry, so a bad edit never reaches a dispatch.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

RULES_DIR = Path(__file__).resolve().parent
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# '*' is every number anywhere; 'US' a country; 'US-FL' a subdivision (ISO 3166-2 style code).
JURISDICTION = re.compile(r"^(\*|[A-Z]{2}(-[A-Z0-9]{1,3})?)$")
HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class RulesError(ValueError):
    """The rules data is malformed; the message names the file and the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Hours(_Strict):
    """Local wall-clock hours [start, end) on one day; 'end' is the first minute not allowed."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not HHMM.match(value):
            raise ValueError(f"{value!r} is not a HH:MM time (00:00-23:59)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self

    def times(self) -> tuple[time, time]:
        return tuple(time(*map(int, t.split(":"))) for t in (self.start, self.end))  # type: ignore[return-value, arg-type]


class Cap(_Strict):
    """At most ``attempts`` calls to one number in a rolling window (what the claim counts)."""

    attempts: Annotated[int, Field(ge=1)]
    per: Literal["number"]
    window: Literal["rolling_24h"]
    counts: str = Field(min_length=1, description="what the law counts, in its words")


class Source(_Strict):
    citation: str = Field(min_length=3)
    url: str = Field(pattern=r"^https?://\S+$")


LOCKOUT_OUTCOMES = ("abandoned", "machine")


class Lockout(_Strict):
    """After an outcome, no redial of the number for ``hours``, and with ``rest_of_local_day``
    not again on the local day of the call either; both may hold, the later end wins."""

    hours: Annotated[int, Field(ge=0, le=24 * 366)] = 0
    rest_of_local_day: bool = False
    source: Source
    verified: bool
    note: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Lockout:
        if not self.hours and not self.rest_of_local_day:
            raise ValueError("a lockout needs hours or rest_of_local_day")
        if not self.verified and not self.note:
            raise ValueError("an unverified lockout needs a note saying what could not be verified")
        return self


class AbandonRateLimit(_Strict):
    """At most ``max_rate`` of a campaign's live answers abandoned, over a rolling ``window_days``."""

    max_rate: Annotated[float, Field(gt=0, le=1)]
    window_days: Annotated[int, Field(ge=1, le=366)]
    per: Literal["campaign"]
    counts: str = Field(min_length=1, description="what the law counts, in its words")
    source: Source
    verified: bool


class Entry(_Strict):
    jurisdiction: str
    effective_from: date | None  # required; null: long in force, its start date not recorded
    until: date | None = None  # the first day it is no longer in force
    kind: Literal["statute", "conservative"]
    summary: str = Field(min_length=3)
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], Hours | None] = {}
    sunday_ban: bool = False
    holiday_ban: bool = False
    holiday_calendar: str | None = None
    emergency_ban: bool = False
    cap: Cap | None = None
    lockouts: dict[Literal["abandoned", "machine"], Lockout] = {}
    abandon_rate: AbandonRateLimit | None = None
    source: Source
    verified: bool
    note: str | None = None

    @field_validator("jurisdiction")
    @classmethod
    def _code(cls, value: str) -> str:
        if not JURISDICTION.match(value):
            raise ValueError(f"{value!r} is not a jurisdiction code ('*', 'US' or 'US-FL')")
        return value

    @field_validator("holiday_calendar")
    @classmethod
    def _calendar(cls, value: str | None) -> str | None:
        if value is not None and (value == "*" or not JURISDICTION.match(value)):
            raise ValueError(f"{value!r} is not a holidays calendar ('US' or 'US-LA')")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Entry:
        if self.until is not None and self.effective_from is not None and self.until <= self.effective_from:
            raise ValueError(f"until {self.until} is not after effective_from {self.effective_from}")
        if self.holiday_ban and not self.holiday_calendar:
            raise ValueError("a holiday ban needs its holiday_calendar")
        if not self.verified and not self.note:
            raise ValueError("an unverified entry needs a note saying what could not be verified")
        if self.sunday_ban and self.hours.get("sun") is not None:
            raise ValueError("a Sunday ban with Sunday hours")
        return self

    def in_force(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (self.until is None or day < self.until)


class RulesFile(_Strict):
    country: str = Field(pattern=r"^(\*|[A-Z]{2})$")
    title: str = Field(min_length=3)
    entries: list[Entry]


def load_rules(directory: Path = RULES_DIR) -> tuple[Entry, ...]:
    """Every entry of every rules file in ``directory``; RulesError on the first bad one."""
    entries: list[Entry] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = RulesFile.model_validate_json(path.read_text())
        except ValidationError as exc:
            raise RulesError(f"{path.name}: {_describe(exc, path)}") from None
        for index, entry in enumerate(data.entries):
            country = entry.jurisdiction.split("-")[0]
            if country != data.country:
                raise RulesError(f"{path.name}: entries[{index}] {entry.jurisdiction} is not in {data.country}")
        entries.extend(data.entries)
    # One law may change on a date (several dated entries under one citation), but two versions
    # of it are never in force on the same day. Different laws of one jurisdiction may overlap.
    by_law: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries:
        by_law.setdefault((entry.jurisdiction, entry.source.citation), []).append(entry)
    for (code, citation), dated in by_law.items():
        dated.sort(key=lambda e: e.effective_from or date.min)
        for earlier, later in zip(dated, dated[1:]):
            if earlier.until is None or later.effective_from is None or earlier.until > later.effective_from:
                raise RulesError(
                    f"{code}: two entries of {citation!r} ({earlier.effective_from} and "
                    f"{later.effective_from}) are in force on the same day"
                )
    if not any(entry.jurisdiction == "*" for entry in entries):
        raise RulesError("no '*' entry: every number needs a floor")
    return tuple(entries)


def _describe(exc: ValidationError, path: Path) -> str:
    import json

    raw = json.loads(path.read_text())
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
            try:
                where = f"{raw['entries'][loc[1]].get('jurisdiction', '?')} ({where})"
            except (KeyError, IndexError, AttributeError, TypeError):
                pass
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


ENTRIES: tuple[Entry, ...] = load_rules()
