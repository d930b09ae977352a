"""The run's state tells the truth: a stage that failed fails the run, and notify still publishes."""

from __future__ import annotations

import pytest

from tests.helpers import us_numbers
from tests.integration.test_exit_paths import campaign_dag, make, notifications, outcomes, task_states  # noqa: F401

pytestmark = pytest.mark.integration


def test_a_failed_report_fails_the_run_while_notify_still_publishes(db, redis_client, make, dialer, dial_queue,
                                                                    topic_inbox, sqs, monkeypatch):
    campaign_id = make("state_no_report", us_numbers(2, seed=91))
    dialer(dial_queue, {"answered": 1.0})
    monkeypatch.setenv("AIRFLOW_VAR_CAMPAIGN_REPORT_BUCKET", "no-such-bucket")

    run = campaign_dag("state_no_report").test()

    states = task_states(run)
    assert states["generate_report"] == "failed" and states["notify"] == "success"
    assert run.state == "failed", states
    [message] = notifications(sqs, topic_inbox, campaign_id)
    assert "the report could not be generated" in message["Subject"] + message["Message"]


def test_a_successful_run_is_a_success(db, redis_client, make, dialer, dial_queue, topic_inbox, sqs):
    campaign_id = make("state_ok", us_numbers(2, seed=92))
    dialer(dial_queue, {"answered": 1.0})

    run = campaign_dag("state_ok").test()

    assert run.state == "success", task_states(run)
    assert outcomes(notifications(sqs, topic_inbox, campaign_id)) == ["completed"]


def test_notify_is_the_only_task_whose_success_cannot_hide_a_failure(db):
    """Airflow decides a run's state from its leaves, and a teardown is not one: so notify, which
    runs whatever happened, never turns a failed report into a successful run."""
    from dev.seed import create_campaign

    create_campaign(db, "state_shape")
    dag = campaign_dag("state_shape")
    assert dag.get_task("notify").is_teardown
    assert not dag.get_task("notify").on_failure_fail_dagrun
    assert [t.task_id for t in dag.tasks if t.is_teardown] == ["notify"]
    assert {t.task_id for t in dag.tasks} == {"validate_campaign", "dispatch_contacts", "wait_for_completion",
                                               "generate_report", "notify"}
