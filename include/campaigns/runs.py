"""What one run of a campaign DAG may do: its end, and whether it may dial at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from include.campaigns.campaign import Campaign

BACKFILL_RUN_TYPE = "backfill"


@dataclass(frozen=True)
class RunContext:
    campaign_id: int
    run_id: str
    run_start: datetime
    run_end: datetime
    live: bool  # False: this run's interval is over; it only re-reports
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


def liveness(campaign: Campaign, *, run_type, run_after: datetime, now: datetime) -> tuple[bool, str | None, datetime]:
    """Whether a run starting ``now`` may dial, why not, and when it ends."""
    end = run_end(campaign.schedule, campaign.timezone, campaign.end_at, run_after)
    if str(getattr(run_type, "value", run_type) or "").lower() == BACKFILL_RUN_TYPE:
        return False, "backfill runs never dial; they regenerate the report", end
    if end <= now:
        return False, f"this run's interval ended at {end.isoformat()}; it only regenerates the report", end
    return True, None, end


def run_context_for(
    conn, campaign: Campaign, *, run_id: str, run_type, run_after: datetime, clear_number: int, params: dict
) -> RunContext:
    """The run's context, with liveness decided by the first task of this run (or of its latest
    clear) and read back by every later task, so a decision never flips mid-run."""
    from include.campaigns.db import fetch_one

    live, reason, end = liveness(campaign, run_type=run_type, run_after=run_after, now=datetime.now(timezone.utc))
    with conn.transaction():
        decided = fetch_one(
            conn,
            "campaign_run_decide",
            {
                "campaign_id": campaign.id,
                "run_id": run_id,
                "clear_number": clear_number or 0,
                "live": live,
                "reason": reason,
                "run_end": end,
            },
        )
    max_contacts = params.get("max_contacts")
    return RunContext(
        campaign_id=campaign.id,
        run_id=run_id,
        run_start=decided["decided_at"],
        run_end=decided["run_end"],
        live=decided["live"],
        dry_run=bool(params.get("dry_run", False)),
        dispatch=bool(params.get("dispatch", True)),
        notify=bool(params.get("notify", True)),
        max_contacts=int(max_contacts) if max_contacts else None,
        not_live_reason=decided["not_live_reason"],
    )
