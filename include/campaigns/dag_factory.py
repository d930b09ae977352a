"""Build one campaign's DAG from its catalog entry.

    validate_campaign >> dispatch_contacts >> wait_for_completion >> generate_report >> notify

Every task is thin: it opens the campaign database, calls a plain function from this package
and returns a small, JSON-able value. Heavy imports happen inside the tasks, never here.
"""

# No `from __future__ import annotations` here: the task decorator reads each task's return
# annotation with typing.get_type_hints, which compiles string annotations, six per campaign on
# every parse; real annotations cost nothing (measured: about a tenth of a millisecond per DAG).
import functools
import logging
import os
import sys
from datetime import datetime, timedelta

from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference, Param, chain, task

from include.campaigns.callbacks import on_run_too_slow, on_task_failure
from include.campaigns.campaign_row import NAME_MAX, OWNER_MAX, bounded
from include.campaigns.catalog import APPROVED_TAGS, CampaignSpec

_log = logging.getLogger(__name__)

# The seed's retry policy: 3 retries, 2 s first delay, doubling.
DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(seconds=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=2),
    "execution_timeout": timedelta(minutes=10),
    # Each task weighs what it says (Airflow's default adds every downstream task's weight, which
    # would put a validation, upstream of the poke, ahead of it: see POKE_PRIORITY).
    "weight_rule": "absolute",
}
# No task holds a worker slot for ever (DEFAULT_ARGS covers the others). Validation resolves every new contact's number, dispatch
# and the report scale with the campaign; a poke is one round of ingest, expiry and top-up.
EXECUTION_TIMEOUTS = {
    "validate_campaign": timedelta(hours=1),
    "dispatch_contacts": timedelta(hours=1),
    "wait_for_completion": timedelta(minutes=10),
    "generate_report": timedelta(minutes=30),
}
SENSOR_TIMEOUT_MARGIN = timedelta(hours=1)
DEADLINE_MARGIN = timedelta(minutes=30)
# A DAG's end_date is inclusive; a run starting exactly at the campaign's end could only re-report.
END_DATE_MARGIN = timedelta(seconds=1)
DEADLINE_ALERTS_ENV = "CAMPAIGN_DEADLINE_ALERTS"
MIN_POKE_ENV, DEFAULT_MIN_POKE_S = "CAMPAIGN_MIN_POKE_INTERVAL_S", 15
# Above every other task of a campaign DAG (each weighs 1).
POKE_PRIORITY = 10

RUN_PARAMS = {
    "dry_run": Param(
        False,
        type="boolean",
        title="Dry run",
        description="Select and report the contacts that would be dialed; send nothing.",
    ),
    "max_contacts": Param(
        None,
        type=["null", "integer"],
        minimum=1,
        title="Max contacts",
        description="Send at most this many dial tasks in this run (empty: no limit).",
    ),
    "dispatch": Param(
        True, type="boolean", title="Dispatch", description="Send dial tasks. Off: only ingest results and report."
    ),
    "notify": Param(True, type="boolean", title="Notify", description="Publish the outcome to SNS."),
}


def _schedule(spec: CampaignSpec):
    if spec.schedule:
        from airflow.sdk import CronTriggerTimetable

        return CronTriggerTimetable(spec.schedule, timezone=spec.timezone)
    return "@once"


def _tags(spec: CampaignSpec) -> list[str]:
    kind = "recurring" if spec.schedule else "one-off"
    return sorted({"campaign", "outbound", kind} | (set(spec.tags) & APPROVED_TAGS))


def expected_duration(spec: CampaignSpec) -> timedelta:
    """How long a run should take before it counts as too slow: the campaign's own figure, else
    the span a run may last (to the campaign's end, or to the next fire time), plus a margin."""
    if spec.expected_duration_s:
        return timedelta(seconds=spec.expected_duration_s)
    span = spec.end_at - spec.start_at
    if spec.schedule:
        from croniter import croniter

        try:
            fires = croniter(spec.schedule, spec.start_at)
            first = fires.get_next(datetime)
            span = min(span, fires.get_next(datetime) - first)
        except Exception:  # noqa: BLE001 - a cron that never fires twice: the campaign's span stands
            pass
    try:
        return max(span, timedelta(0)) + DEADLINE_MARGIN
    except OverflowError:
        return timedelta.max


def _in_dags_test() -> bool:
    return sys.argv[1:3] == ["dags", "test"]


def deadline_alerts_enabled() -> bool:
    """Airflow 3.3.2's dag.test() (and so `airflow dags test`) crashes when a run with a
    DeadlineAlert succeeds: it looks the alert up by its unserialized form. The scheduler path is
    fine. So alerts are left off in a `dags test` process and wherever CAMPAIGN_DEADLINE_ALERTS=off
    (the test suite); tests/integration/test_exit_paths.py tracks the upstream bug."""
    if os.environ.get(DEADLINE_ALERTS_ENV, "on").lower() in ("off", "0", "false"):
        return False
    return not _in_dags_test()


def poke_interval(spec: CampaignSpec) -> int:
    """The campaign's poke interval, but never under the scheduler's floor: with pokes faster than
    about 15 s, Airflow 3.3's scheduler can read a slow-exiting poke as an external state change
    and fail the sensor (apache/airflow#71172). `dags test` runs pokes inline and needs no floor."""
    floor = 0 if _in_dags_test() else int(os.environ.get(MIN_POKE_ENV, DEFAULT_MIN_POKE_S))
    return max(spec.poke_interval_s, floor)


def _too_slow_alert(spec: CampaignSpec) -> DeadlineAlert:
    expected = expected_duration(spec)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=expected,
        callback=AsyncCallback(
            on_run_too_slow, kwargs={"campaign_id": spec.id, "expected_s": int(expected.total_seconds())}
        ),
    )


def _run_context(conn, campaign_id: int, context):
    from include.campaigns.campaign import load_campaign
    from include.campaigns.runs import run_context_for

    dag_run = context["dag_run"]
    campaign = load_campaign(conn, campaign_id)
    return campaign, run_context_for(
        conn,
        campaign,
        run_id=dag_run.run_id,
        run_type=dag_run.run_type,
        run_after=dag_run.run_after,
        clear_number=dag_run.clear_number,
        params=context["params"],
    )


def build_campaign_dag(spec: CampaignSpec) -> DAG:
    """One DAG per campaign; ``spec`` is bound here, so each DAG's closures see their own."""
    campaign_id = spec.id
    shards = spec.dispatch_shards
    alert = functools.partial(on_task_failure, campaign_id=campaign_id)
    sensor_timeout = max(spec.end_at - spec.start_at, timedelta(0)) + SENSOR_TIMEOUT_MARGIN
    # Text that lands in Airflow's own columns is cut to fit them (the catalog refuses what is far
    # over): one long value must never make the dag-processor's write fail for every DAG.
    name = bounded(spec.name, NAME_MAX)

    with DAG(
        dag_id=spec.dag_id,
        description=f"Outbound call campaign: {name}",
        doc_md=f"Campaign **{name}** (`{spec.slug}`, id {spec.id}). Each run validates the campaign, "
        "dispatches eligible contacts as dial tasks, waits for the dialer's results, reports and notifies.",
        schedule=_schedule(spec),
        start_date=spec.start_at,
        # No scheduled run starts at or after a recurring campaign's end: its last run is the one
        # whose interval the end falls in, and that run completes the campaign with the final
        # report. Airflow creates no task for a run past a DAG's end_date, so a one-off campaign
        # (one scheduled run anyway) keeps none, and its manual runs work after its end.
        end_date=spec.end_at - END_DATE_MARGIN if spec.schedule else None,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "owner": bounded(spec.owner, OWNER_MAX)},
        params=RUN_PARAMS,
        tags=_tags(spec),
        # Status-independent, so a status change is never a new DAG version: a new campaign DAG is
        # unpaused, and a run of a campaign whose status allows none stops at validate_campaign.
        is_paused_upon_creation=False,
        deadline=_too_slow_alert(spec) if deadline_alerts_enabled() else None,
        # Only the DAGs the file hands over exist: a `with DAG` block would otherwise register
        # itself even when the catalog leaves the campaign out (its build or serialization failed).
        auto_register=False,
    ) as dag:

        @task(on_failure_callback=alert, execution_timeout=EXECUTION_TIMEOUTS["validate_campaign"])
        def validate_campaign(**context) -> dict:
            """Check the campaign before anyone is called; every problem fails the run without retries."""
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from include.campaigns.db import campaign_db
            from include.campaigns.validation import CampaignInvalid, quiet_end_reason, validate

            with campaign_db() as conn:
                campaign, run = _run_context(conn, campaign_id, context)
                if reason := quiet_end_reason(campaign, live=run.live, dry_run=run.dry_run):
                    raise AirflowSkipException(reason)
                try:
                    return validate(conn, campaign, live=run.live)
                except CampaignInvalid as exc:
                    raise AirflowFailException(str(exc)) from exc

        @task(pool="campaign_db", on_failure_callback=alert, execution_timeout=EXECUTION_TIMEOUTS["dispatch_contacts"])
        def dispatch_contacts(shard: int, **context) -> dict:
            """Send the eligible contacts, in priority order, to the dial queue.

            Mapped over the campaign's ``dispatch_shards``: each shard claims the contacts whose
            id falls in it, so the shards run on any workers at once and never send one contact
            twice.
            """
            from include.campaigns.db import campaign_db
            from include.campaigns.dispatch import dispatch

            with campaign_db() as conn:
                campaign, run = _run_context(conn, campaign_id, context)
                return dispatch(conn, campaign, run, shard=shard, shard_count=shards).as_dict()

        # A poke takes a task slot ahead of any validation or dispatch: when a batch of campaigns
        # starts at once, the running campaigns keep their pokes (ingest, expiry, top-up) on time.
        @task.sensor(
            poke_interval=poke_interval(spec),
            timeout=sensor_timeout.total_seconds(),
            mode="reschedule",
            on_failure_callback=alert,
            execution_timeout=EXECUTION_TIMEOUTS["wait_for_completion"],
            priority_weight=POKE_PRIORITY,
        )
        def wait_for_completion(**context):
            """Ingest results, top the queue up, and finish when the campaign's run is over."""
            from airflow.sdk import PokeReturnValue

            from include.campaigns.db import campaign_db, is_timeout
            from include.campaigns.progress import poke

            try:
                with campaign_db() as conn:
                    _, run = _run_context(conn, campaign_id, context)
                    result = poke(conn, campaign_id, run)
            except Exception as exc:
                if not is_timeout(exc):
                    raise
                # Each step of a poke commits on its own, so giving up part-way loses nothing: a
                # lock held elsewhere (an operator's open transaction) only delays this round.
                _log.warning(
                    "Poke of campaign %s gave up waiting for the database (%s: %s); trying again at the next poke",
                    campaign_id,
                    exc.__class__.__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                )
                return PokeReturnValue(is_done=False)
            return PokeReturnValue(is_done=result.done, xcom_value=result.as_dict())

        @task(execution_timeout=EXECUTION_TIMEOUTS["generate_report"])
        def generate_report(poke_result: dict, dispatch_result: list[dict], **context) -> dict:
            """Write the run's report to PostgreSQL, and to S3 as JSON, CSV and an HTML page."""
            from include.campaigns.db import campaign_db
            from include.campaigns.dispatch import merge_results
            from include.campaigns.reporting import generate, headline

            with campaign_db() as conn:
                _, run = _run_context(conn, campaign_id, context)
                report = generate(
                    conn,
                    campaign_id,
                    run,
                    poke_result["outcome"],
                    poke_result,
                    dry_run=merge_results(dispatch_result) if run.dry_run else None,
                )
            return headline(report)

        @task
        def notify(**context) -> str | None:
            """Publish the run's outcome; runs even when the report failed, and says so.

            A teardown: it runs once everything before it is done, whatever their states, and
            Airflow leaves a teardown out when it decides the run's state, so its success never
            turns a failed stage into a successful run.
            """
            from include.campaigns.campaign import load_campaign
            from include.campaigns.db import campaign_db
            from include.campaigns.notification import publish

            ti = context["ti"]
            if not context["params"]["notify"]:
                return None
            summary = ti.xcom_pull(task_ids="generate_report")
            poke_result = ti.xcom_pull(task_ids="wait_for_completion")
            if poke_result is None:
                return None  # the run failed upstream; the failure alert has already gone out
            with campaign_db() as conn:
                campaign = load_campaign(conn, campaign_id)
            if summary is None:
                outcome = poke_result["outcome"]
                return publish(
                    campaign=campaign,
                    run_id=ti.run_id,
                    outcome=outcome,
                    summary="the report could not be generated",
                    details={"report": None, **poke_result},
                )
            return publish(
                campaign=campaign,
                run_id=ti.run_id,
                outcome=summary["outcome"],
                summary=f"{summary['dialed']} dialed, {summary['answered']} answered",
                details=summary,
            )

        import attrs

        from include.campaigns.report_operator import CampaignReportOperator

        validated = validate_campaign()
        dispatched = dispatch_contacts.expand(shard=list(range(shards)))
        waited = wait_for_completion()
        # Its own operator class, so the plugin's Campaign report link attaches to this task alone.
        reported = attrs.evolve(generate_report, operator_class=CampaignReportOperator)(waited, dispatched)
        chain(validated, dispatched, waited, reported, notify().as_teardown())
    return dag
