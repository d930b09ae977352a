"""How a run ends: one pure decision, and one row of the README's "How a run ends" table per rule.

A run's end and the campaign's end are different things. A run ends when its work is done, when
its interval ends, or when the operator stops it; contacts still waiting (for a retry, or for
their calling window) carry over to the next run untouched. Only the campaign's own end (its
`end_at`, with no later run to call them) counts unreached contacts as expired.

The poke gathers the facts and applies the verdict; nothing here touches the database, so every
rule can be checked on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from include.campaigns.outcomes import Outcome

# Statuses a run's end may move; a paused, cancelled or failed campaign keeps its status.
SETTLED_FROM = ("active", "scheduled")


@dataclass(frozen=True)
class RunFacts:
    """What one poke knows when it decides. Counts are of the campaign's contacts unless named."""

    now: datetime
    run_end: datetime  # the run's interval end (never after the campaign's end)
    campaign_end: datetime  # the campaign's end_at
    status: str  # the campaign's status
    recurring: bool = False  # a cron schedule: later runs may find contacts added meanwhile
    live: bool = True
    dry_run: bool = False
    pending: int = 0  # contacts never yet dialed (whether their window is open or not)
    in_flight: int = 0  # contacts with a dial task out
    waiting_retry: int = 0  # contacts whose retry is due later (status failed, attempts left)
    retry_due_in_run: int = 0  # of those, the ones falling due before this run ends
    max_contacts: int | None = None
    run_dial_tasks: int = 0  # dial tasks this run has claimed
    run_open_tasks: int = 0  # of those, the ones still claimed or sent (no result, not expired)


@dataclass(frozen=True)
class Verdict:
    done: bool
    outcome: Outcome | None = None
    expire_unreached: bool = False  # count every contact not reached as expired
    campaign_status: str | None = None  # what the campaign becomes (from SETTLED_FROM only)
    campaign_ended: bool = False  # this run is the campaign's last: its report is the final one
    note: str | None = None

    @property
    def settles_from(self) -> tuple[str, ...]:
        """The campaign's end settles a paused campaign too; a run's end leaves a pause alone."""
        return (*SETTLED_FROM, "paused") if self.campaign_ended else SETTLED_FROM


WAITING = Verdict(done=False)


def decide(f: RunFacts) -> Verdict:
    """The run-end table, row by row, first match wins."""
    if f.dry_run:
        return Verdict(True, Outcome.DRY_RUN)
    if not f.live:
        if f.now >= f.campaign_end and f.status != "cancelled":
            # A run that starts after the campaign's end (its predecessor ran late) dials no one,
            # but the campaign's end is still settled, by whichever run sees it first.
            return Verdict(
                True,
                Outcome.REPORT_ONLY,
                expire_unreached=True,
                campaign_status="completed",
                campaign_ended=True,
                note="the campaign's end time came",
            )
        return Verdict(True, Outcome.REPORT_ONLY)
    if f.status == "cancelled":
        # The operator stopped the campaign: nothing new is sent, dial tasks in flight are counted
        # as they stand, and no contact is rewritten.
        return Verdict(True, Outcome.CANCELLED)

    unfinished = f.pending + f.in_flight + f.waiting_retry
    campaign_over = f.now >= f.campaign_end
    last_run = f.run_end >= f.campaign_end
    if unfinished == 0:
        if f.recurring and not (last_run or campaign_over):
            # A recurring campaign lives until its end: its next run may find contacts added since
            # (tomorrow's reminders), so only this run is over.
            return Verdict(
                True,
                Outcome.COMPLETED,
                campaign_status="scheduled",
                note="every contact is finished; the campaign runs again at its next tick",
            )
        # Every contact is finished and no later run will come: the campaign is done.
        return Verdict(
            True, Outcome.COMPLETED, campaign_status="completed", campaign_ended=True, note="every contact is finished"
        )

    if campaign_over:
        return Verdict(
            True,
            Outcome.COMPLETED_AT_END,
            expire_unreached=True,
            campaign_status="completed",
            campaign_ended=True,
            note="the campaign's end time came",
        )

    sent = f.run_dial_tasks > 0
    if f.now >= f.run_end:
        # The next fire time came (a paused run ends here too; the next run waits the same way).
        return Verdict(
            True,
            Outcome.INTERVAL_ENDED if sent else Outcome.NOTHING_TO_DO,
            campaign_status="scheduled",
            note="the run's interval ended; contacts still waiting carry over to the next run",
        )
    if f.status == "paused":
        return Verdict(False, note="campaign paused: waiting, dispatching nothing")

    if f.max_contacts is not None and f.run_dial_tasks >= f.max_contacts and f.run_open_tasks == 0:
        return Verdict(
            True,
            Outcome.LIMIT_REACHED,
            campaign_status="scheduled",
            note=f"the run sent its limit of {f.max_contacts} and every one has a result or expired",
        )

    if f.pending + f.in_flight == 0 and f.retry_due_in_run == 0:
        # Only retries falling due after this run are left.
        if last_run:
            return Verdict(
                True,
                Outcome.COMPLETED,
                expire_unreached=True,
                campaign_status="completed",
                campaign_ended=True,
                note="the retries left fall due after the campaign's end",
            )
        return Verdict(
            True,
            Outcome.COMPLETED if sent else Outcome.NOTHING_TO_DO,
            campaign_status="scheduled",
            note="the retries left fall due in a later run",
        )
    return WAITING
