"""Failure alerts: a task that exhausts its retries marks the campaign failed and says so on SNS."""

from __future__ import annotations

import logging

from include.campaigns.outcomes import Outcome

log = logging.getLogger(__name__)

# Statuses a failed run moves to `failed`; a cancelled or archived campaign keeps its status.
FAILABLE_STATUSES = ["scheduled", "active", "paused"]
# DagRunState values of a run that is over (the context carries them as plain strings).
FINISHED_RUN_STATES = ("success", "failed")


def on_task_failure(context, *, campaign_id: int) -> None:
    """Runs once a task has failed for good. It must not raise: a broken alert hides the failure."""
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db, execute
    from include.campaigns.notification import publish
    from include.campaigns.validation import CampaignInvalid

    ti = context["ti"]
    error = context.get("exception")
    validation_failed = isinstance(error, CampaignInvalid) or (
        error is not None and isinstance(error.__cause__, CampaignInvalid)
    )
    outcome = Outcome.VALIDATION_FAILED if validation_failed else Outcome.FAILED
    try:
        with campaign_db() as conn:
            campaign = load_campaign(conn, campaign_id)
            with conn.transaction():
                marked = execute(
                    conn,
                    "campaign_set_status",
                    {"campaign_id": campaign_id, "status": "failed", "from_statuses": FAILABLE_STATUSES},
                )
        details = {
            "dag_id": ti.dag_id,
            "task_id": ti.task_id,
            "run_id": ti.run_id,
            "try_number": ti.try_number,
            "error": f"{error.__class__.__name__}: {error}" if error else None,
        }
        if validation_failed:
            problems = getattr(error, "problems", None) or getattr(error.__cause__, "problems", [])
            details["problems"] = problems
        publish(
            campaign=campaign,
            run_id=ti.run_id,
            outcome=outcome,
            summary=("campaign marked failed" if marked else f"campaign stays {campaign.status}")
            + f": task {ti.task_id} failed",
            details=details,
        )
    except Exception:
        log.exception("Could not record or announce the failure of %s for campaign %s", ti.task_id, campaign_id)


async def on_run_too_slow(*, campaign_id: int, expected_s: int, context: dict | None = None) -> None:
    """A Deadline Alert callback (runs in the triggerer): the run is taking longer than expected.

    It only alerts; the run goes on, because stopping a campaign mid-flight is an operator's call.
    Airflow 3.3.2 drops a run's deadline only when the run succeeds, so a failed run's deadline
    still fires later: the context carries the run as the scheduler saw it when the deadline
    passed, and a run that had already finished gets no alert.
    """
    import asyncio

    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.notification import publish

    dag_run = (context or {}).get("dag_run") or {}
    run_id = dag_run.get("dag_run_id", "unknown")
    if dag_run.get("state") in FINISHED_RUN_STATES:
        log.info(
            "Run %s of campaign %s ended %s before its deadline passed: no too_slow alert",
            run_id,
            campaign_id,
            dag_run["state"],
        )
        return

    def alert() -> str:
        with campaign_db() as conn:
            campaign = load_campaign(conn, campaign_id)
        return publish(
            campaign=campaign,
            run_id=run_id,
            outcome=Outcome.TOO_SLOW,
            summary=f"the run has been going for over {expected_s} s, its expected duration",
            details={"expected_duration_s": expected_s, "deadline": (context or {}).get("deadline")},
        )

    await asyncio.to_thread(alert)
