"""Small builders shared by the tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

# Etc/GMT zones have whole-hour offsets and no DST (note the POSIX sign: Etc/GMT-3 is UTC+3),
# so for any instant there is one whose local time is a chosen hour.
ETC_ZONES = [f"Etc/GMT{sign}{n}" for n in range(1, 13) for sign in "+-"] + ["Etc/GMT-13", "Etc/GMT-14", "Etc/UTC"]


def zone_at_local_hour(hour: int, now: datetime | None = None) -> str:
    """An IANA zone in which it is now ``hour`` o'clock."""
    now = now or datetime.now(timezone.utc)
    from zoneinfo import ZoneInfo

    for zone in ETC_ZONES:
        if now.astimezone(ZoneInfo(zone)).hour == hour:
            return zone
    raise AssertionError(f"no Etc zone at local hour {hour}")


def open_zone(now: datetime | None = None) -> str:
    """A zone where it is early afternoon: inside every test window and the legal floor."""
    return zone_at_local_hour(13, now)


def closed_zone(now: datetime | None = None) -> str:
    """A zone where it is the small hours: outside every window."""
    return zone_at_local_hour(3, now)


def us_numbers(count: int, seed: int = 0, area: str = "212") -> list[str]:
    from dev.seed import phone_numbers

    return phone_numbers(f"+1{area}", 7, count, random.Random(seed))


def run_context(campaign_id: int, run_id: str = "run-1", **overrides):
    """A live run of a day, started a minute ago: what dispatch and the poke see in a task."""
    from include.campaigns.runs import RunContext

    now = datetime.now(timezone.utc)
    values: dict[str, Any] = dict(
        campaign_id=campaign_id,
        run_id=run_id,
        run_start=now - timedelta(minutes=1),
        run_end=now + timedelta(days=1),
        live=True,
    )
    values.update(overrides)
    return RunContext(**values)


def together(*jobs) -> list[BaseException]:
    """Each job on its own campaign-database connection, all released at the same instant; the
    errors they raised."""
    import threading

    from include.campaigns.db import campaign_db

    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job):
        try:
            with campaign_db() as conn:
                barrier.wait()
                job(conn)
        except Exception as exc:  # surfaced in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
