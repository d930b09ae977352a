"""The run's state tells the truth: a stage that failed fails the run, and notify still publishes.

The runs themselves are in test_exit_paths.py (a failed report, a completed run); this is the
DAG's shape that makes them so."""

from __future__ import annotations

import pytest

from tests.integration.test_exit_paths import campaign_dag

pytestmark = pytest.mark.integration


def test_notify_is_the_only_task_whose_success_cannot_hide_a_failure(db):
    """Airflow decides a run's state from its leaves, and a teardown is not one: so notify, which
    runs whatever happened, never turns a failed report into a successful run."""
    from dev.seed import create_campaign

    create_campaign(db, "state_shape")
    dag = campaign_dag("state_shape")
    assert dag.get_task("notify").is_teardown
    assert not dag.get_task("notify").on_failure_fail_dagrun
    assert [t.task_id for t in dag.tasks if t.is_teardown] == ["notify"]
    assert {t.task_id for t in dag.tasks} == {
        "validate_campaign",
        "dispatch_contacts",
        "wait_for_completion",
        "generate_report",
        "notify",
    }
