"""What one run of a campaign DAG may do: its end, and whether it may dial at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

BACKFILL_RUN_TYPE = "backfill"


@dataclass(frozen=True)
class RunContext:
    campaign_id: int
    run_id: str
    run_start: datetime
    run_end: datetime
    live: bool                 # False: this run's interval is over; it only re-reports
    dry_run: bool = False
    dispatch: bool = True
    notify: bool = True
    max_contacts: int | None = None
    not_live_reason: str | None = None

    @property
    def may_send(self) -> bool:
        return self.live and self.dispatch and not self.dry_run


def run_end(schedule: str | None, tz: str, end_at: datetime, run_after: datetime) -> datetime:
    """A one-off run lasts until the campaign ends; a recurring run until its next fire time."""
    if not schedule:
        return end_at
    from croniter import croniter

    local = run_after.astimezone(ZoneInfo(tz))
    next_fire = croniter(schedule, local).get_next(datetime)
    return min(end_at, next_fire.astimezone(timezone.utc))


def build_run_context(campaign: dict, *, run_id: str, run_type: str | None, run_after: datetime,
                      started_at: datetime | None, params: dict) -> RunContext:
    """``started_at`` is when the run (or its latest clear-and-rerun) started: a run that starts
    after its interval ended is a rerun of the past, and only re-reports."""
    started_at = started_at or datetime.now(timezone.utc)
    end = run_end(campaign["schedule"], campaign["timezone"], campaign["end_at"], run_after)
    reason = None
    if str(getattr(run_type, "value", run_type) or "").lower() == BACKFILL_RUN_TYPE:
        reason = "backfill runs never dial; they regenerate the report"
    elif end <= started_at:
        reason = f"this run's interval ended at {end.isoformat()}; it only regenerates the report"
    max_contacts = params.get("max_contacts")
    return RunContext(
        campaign_id=campaign["id"], run_id=run_id, run_start=run_after, run_end=end,
        live=reason is None, dry_run=bool(params.get("dry_run", False)),
        dispatch=bool(params.get("dispatch", True)), notify=bool(params.get("notify", True)),
        max_contacts=int(max_contacts) if max_contacts else None, not_live_reason=reason,
    )
