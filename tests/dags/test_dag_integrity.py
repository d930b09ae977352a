"""DAG integrity: the DAG file imports cleanly and every campaign DAG has the agreed shape."""

from __future__ import annotations

import pytest

from include.campaigns.catalog import APPROVED_TAGS
from tests.dags.conftest import SEEDED

LIVE = sorted(f"campaign_{slug}" for slug, spec in SEEDED.items() if spec.get("status") != "archived")
MAINTENANCE = ["campaign_answer_model", "campaign_blacklist_sync", "campaign_results_ingest"]
STAGES = ["validate_campaign", "dispatch_contacts", "wait_for_completion", "generate_report", "notify"]


def test_dag_file_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_dag_per_non_archived_campaign_plus_the_maintenance_dags(dagbag):
    assert sorted(dagbag.dag_ids) == sorted(LIVE + MAINTENANCE)


@pytest.mark.parametrize("dag_id", MAINTENANCE)
def test_maintenance_dags_retry_and_never_overlap(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert set(dag.tags) <= APPROVED_TAGS
    assert all(task.retries >= 2 for task in dag.tasks)


@pytest.mark.parametrize("dag_id", LIVE)
def test_stages_run_in_order(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    for upstream, downstream in zip(STAGES, STAGES[1:]):
        assert dag.get_task(upstream).downstream_task_ids >= {downstream}, (upstream, downstream)
    assert set(dag.task_ids) == set(STAGES)
    # A teardown: it always runs, and Airflow leaves it out of the run's state.
    assert dag.get_task("notify").is_teardown


@pytest.mark.parametrize("dag_id", LIVE)
def test_every_task_retries_at_least_twice_with_backoff(dagbag, dag_id):
    for task in dagbag.get_dag(dag_id).tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_delay.total_seconds() == 2
        assert task.retry_exponential_backoff == 2.0


@pytest.mark.parametrize("dag_id", LIVE)
def test_tags_are_approved(dagbag, dag_id):
    tags = set(dagbag.get_dag(dag_id).tags)
    assert "campaign" in tags
    assert tags <= APPROVED_TAGS


@pytest.mark.parametrize("dag_id", LIVE)
def test_runs_never_overlap_and_never_catch_up(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag.max_active_runs == 1
    assert dag.catchup is False


@pytest.mark.parametrize("dag_id", LIVE)
def test_completion_sensor_frees_its_worker_between_pokes(dagbag, dag_id):
    sensor = dagbag.get_dag(dag_id).get_task("wait_for_completion")
    assert sensor.mode == "reschedule"
    assert sensor.poke_interval == 2
    assert sensor.timeout > 0


@pytest.mark.parametrize("dag_id", LIVE)
def test_manual_runs_take_typed_params_with_defaults(dagbag, dag_id):
    params = dagbag.get_dag(dag_id).params
    assert params["dry_run"] is False and params["dispatch"] is True and params["notify"] is True
    assert params["max_contacts"] is None
    assert params.get_param("dry_run").schema["type"] == "boolean"


def test_recurring_campaign_uses_a_cron_in_its_own_timezone(dagbag):
    timetable = dagbag.get_dag("campaign_daily_survey").timetable
    assert type(timetable).__name__ == "CronTriggerTimetable"
    assert timetable.expression == "0 10 * * 1-5"
    assert str(timetable.timezone) == "America/Chicago"
    assert "recurring" in dagbag.get_dag("campaign_daily_survey").tags


def test_unapproved_campaign_tags_are_dropped(dagbag):
    assert "not-approved" not in dagbag.get_dag("campaign_daily_survey").tags
    assert "surveys" in dagbag.get_dag("campaign_daily_survey").tags


def test_a_campaign_dag_starts_unpaused_whatever_the_campaigns_status(dagbag):
    # The status must not shape the DAG (each change would be a new DAG version); runs check it.
    assert dagbag.get_dag("campaign_winback").is_paused_upon_creation is False
    assert dagbag.get_dag("campaign_renewals_q4").is_paused_upon_creation is False


def test_the_scheduler_never_pokes_faster_than_its_floor(monkeypatch):
    from datetime import datetime, timedelta, timezone

    from include.campaigns.catalog import CampaignSpec
    from include.campaigns.dag_factory import build_campaign_dag

    now = datetime.now(timezone.utc)
    spec = CampaignSpec(
        id=1,
        slug="fast",
        name="Fast",
        schedule=None,
        timezone="UTC",
        start_at=now,
        end_at=now + timedelta(days=1),
        status="scheduled",
        owner="ops",
        tags=(),
        poke_interval_s=2,
    )
    monkeypatch.setenv("CAMPAIGN_MIN_POKE_INTERVAL_S", "15")
    assert build_campaign_dag(spec).get_task("wait_for_completion").poke_interval == 15


def test_dispatch_is_mapped_over_the_campaigns_shards(dagbag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    for dag_id, shards in (("campaign_big_list", 3), ("campaign_renewals_q4", 1)):
        dispatch = dagbag.get_dag(dag_id).get_task("dispatch_contacts")
        assert isinstance(dispatch, MappedOperator)
        assert dispatch.op_kwargs_expand_input.value["shard"] == list(range(shards))


def test_a_malformed_config_value_does_not_break_the_catalog(dagbag):
    # The campaign still gets its DAG (one shard); its run's validation reports the config.
    dag = dagbag.get_dag("campaign_bad_shards")
    assert dag is not None
    assert dag.get_task("dispatch_contacts").op_kwargs_expand_input.value["shard"] == [0]


@pytest.mark.parametrize("dag_id", LIVE)
def test_no_task_may_run_for_ever(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert [t.task_id for t in dag.tasks if t.execution_timeout is None] == []
