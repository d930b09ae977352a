"""The rules a campaign row must meet before it can become a DAG, shared by the catalog, the
GitOps file, ``validate_campaign`` and the Campaigns page.

Light on purpose: the DAG files apply these rules on every parse, so nothing heavy is imported
at module level. The limits follow the columns Airflow writes a DAG's text into (Airflow 3.3's
``dag``, ``dag_tag`` and ``dag_owner_attributes`` tables); text longer than those columns makes
the dag-processor's ``INSERT`` fail, and with it every DAG it was saving.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache

# dag_owner_attributes.owner is varchar(500) (dag.owners, which joins the owners, is 2000).
OWNER_MAX = 500
# dag.timetable_description is varchar(1000); a long but valid cron can describe past it.
TIMETABLE_DESCRIPTION_MAX = 1000
# dag_tag.name is varchar(100).
TAG_MAX = 100
# Our own bounds: a name goes into the DAG's description and doc, a schedule into the timetable.
NAME_MAX = 200
SCHEDULE_MAX = 255
TIMEZONE_MAX = 255
POKE_INTERVAL_RANGE = (1, 3600)
ELLIPSIS = "…"


def bounded(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def known_timezone(name: object) -> bool:
    """An IANA zone this Python knows: membership, so a tzdata folder (``Europe``), a path or an
    overlong string is simply not a zone instead of an error from the file system."""
    return isinstance(name, str) and 0 < len(name) <= TIMEZONE_MAX and name in _zones()


def instant(value: object) -> datetime:
    """A timestamp from a row (datetime, ISO text or epoch seconds), or ValueError saying why not:
    'infinity' and years outside 1..9999 cannot become a Python datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone")
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value[:40]!r} is not a finite timestamp in years 1..9999") from None
        if parsed.tzinfo is None:
            raise ValueError(f"{value[:40]!r} has no time zone")
        return parsed
    if value is not None and not isinstance(value, bool):
        try:
            seconds = float(value)  # type: ignore[arg-type]  # whatever float() refuses is refused below
        except (ValueError, TypeError):
            seconds = None
        if seconds is not None:
            if math.isnan(seconds):
                shown = "NaN"
            elif math.isinf(seconds):
                shown = "infinity" if seconds > 0 else "-infinity"
            else:
                try:
                    return datetime.fromtimestamp(seconds, timezone.utc)
                except (ValueError, OverflowError, OSError):
                    shown = "after year 9999" if seconds > 0 else "before year 1"
            raise ValueError(f"{shown} is not a finite timestamp in years 1..9999")
    raise ValueError(f"{str(value)[:40]!r} is not a finite timestamp in years 1..9999")


def schedule_problem(schedule: object) -> str | None:
    """Why a schedule cannot drive a DAG, or None: a 5-field cron (or an Airflow cron preset)
    that fires, whose description fits Airflow's column."""
    if schedule is None:
        return None
    if not isinstance(schedule, str) or not schedule.strip():
        return f"schedule {schedule!r} is not a cron expression"
    if len(schedule) > SCHEDULE_MAX:
        return f"schedule is longer than {SCHEDULE_MAX} characters"
    from croniter import croniter

    from airflow.utils.dates import cron_presets

    expression = cron_presets.get(schedule, schedule)
    if len(expression.split()) != 5:
        return f"schedule {schedule!r} is not a 5-field cron expression"
    try:
        fires = croniter(expression, datetime(2000, 1, 1, tzinfo=timezone.utc))
        fires.get_next(datetime)
    except Exception as exc:  # croniter's errors for a bad field, or a date that never comes
        reason = "never fires" if "failed to find" in str(exc).lower() else f"is not a valid cron ({exc})"
        return f"schedule {schedule!r} {reason}"
    description = timetable_description(expression)
    if len(description) > TIMETABLE_DESCRIPTION_MAX:
        return (
            f"schedule {schedule!r} describes to {len(description)} characters, more than the "
            f"{TIMETABLE_DESCRIPTION_MAX} Airflow stores"
        )
    return None


@lru_cache(maxsize=4096)  # a pure function of the expression; campaigns share a few schedules
def timetable_description(expression: str) -> str:
    """The text Airflow stores as the DAG's timetable description, computed as Airflow does."""
    from airflow.timetables.trigger import CronTriggerTimetable

    return CronTriggerTimetable(expression, timezone="UTC").description or ""


def row_problems(row: dict) -> list[str]:
    """Every reason this campaign row cannot become a DAG; empty when it can."""
    problems = []
    name = row.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name is empty")
    elif len(name) > NAME_MAX:
        problems.append(f"name is longer than {NAME_MAX} characters")
    owner = row.get("owner")
    if not isinstance(owner, str) or not owner.strip():
        problems.append("owner is empty")
    elif len(owner) > OWNER_MAX:
        problems.append(f"owner is longer than the {OWNER_MAX} characters Airflow stores")
    zone = row.get("timezone")
    if not known_timezone(zone):
        shown = zone[:60] + ELLIPSIS if isinstance(zone, str) and len(zone) > 60 else zone
        problems.append(f"timezone {shown!r} is not an IANA time zone")
    bounds = {}
    for key in ("start_at", "end_at"):
        try:
            bounds[key] = instant(row.get(key))
        except ValueError as exc:
            problems.append(f"{key} {exc}")
    if len(bounds) == 2 and bounds["start_at"] >= bounds["end_at"]:
        problems.append("start_at is not before end_at")
    problem = schedule_problem(row.get("schedule"))
    if problem:
        problems.append(problem)
    poke = row.get("poke_interval_s")
    if poke is not None and (
        isinstance(poke, bool)
        or not isinstance(poke, int)
        or not POKE_INTERVAL_RANGE[0] <= poke <= POKE_INTERVAL_RANGE[1]
    ):
        problems.append(
            f"poke_interval_s must be an integer from {POKE_INTERVAL_RANGE[0]} to "
            f"{POKE_INTERVAL_RANGE[1]}, got {poke!r}"
        )
    tags = row.get("tags") or []
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        problems.append("tags must be a list of strings")
    elif any(len(t) > TAG_MAX for t in tags):
        problems.append(f"a tag is longer than the {TAG_MAX} characters Airflow stores")
    return problems
