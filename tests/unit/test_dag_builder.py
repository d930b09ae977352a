"""Building one campaign's DAG: nothing a campaign row holds makes the build raise or overflow
Airflow's columns (production defaults: deadline alerts on)."""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from include.campaigns.catalog import CampaignSpec

START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def spec(**overrides) -> CampaignSpec:
    fields: dict[str, Any] = dict(
        id=7,
        slug="renewals",
        name="Renewals",
        schedule=None,
        timezone="UTC",
        start_at=START,
        end_at=START + timedelta(days=30),
        status="scheduled",
        owner="campaign-ops",
        tags=("sales",),
        poke_interval_s=60,
    )
    fields.update(overrides)
    return CampaignSpec(**fields)


@pytest.mark.parametrize("schedule", ["not a cron", "@once", "0 0 30 2 *"])
def test_the_expected_duration_of_a_campaign_with_a_bad_cron_is_its_span_not_an_error(schedule):
    from include.campaigns.dag_factory import DEADLINE_MARGIN, expected_duration

    assert expected_duration(spec(schedule=schedule)) == timedelta(days=30) + DEADLINE_MARGIN


def test_the_expected_duration_of_a_recurring_campaign_is_its_interval():
    from include.campaigns.dag_factory import DEADLINE_MARGIN, expected_duration

    assert expected_duration(spec(schedule="0 10 * * *")) == timedelta(days=1) + DEADLINE_MARGIN


def test_a_dag_with_text_longer_than_airflow_stores_is_cut_to_fit_and_serializes(monkeypatch):
    from airflow.serialization.serialized_objects import DagSerialization, LazyDeserializedDAG

    from include.campaigns.dag_factory import build_campaign_dag

    monkeypatch.setenv("CAMPAIGN_DEADLINE_ALERTS", "on")
    dag = build_campaign_dag(spec(owner="ö" * 3000, name="📞" * 5000))
    lazy = LazyDeserializedDAG(data=DagSerialization.to_dict(dag))
    assert len(lazy.owner) <= 500 and lazy.owner.endswith("…")
    assert len(dag.description) <= 250 and dag.description.endswith("…")
    assert dag.deadline is not None


def test_every_task_has_an_execution_timeout():
    from include.campaigns.dag_factory import build_campaign_dag

    dag = build_campaign_dag(spec())
    assert {t.task_id: t.execution_timeout is not None for t in dag.tasks} == {t.task_id: True for t in dag.tasks}
    assert dag.get_task("wait_for_completion").execution_timeout <= timedelta(minutes=10)


def test_a_campaigns_own_expected_duration_sets_its_too_slow_deadline(monkeypatch):
    from include.campaigns.dag_factory import build_campaign_dag, expected_duration

    monkeypatch.setenv("CAMPAIGN_DEADLINE_ALERTS", "on")
    own = spec(schedule="0 10 * * *", expected_duration_s=600)
    assert expected_duration(own) == timedelta(seconds=600)
    [alert] = build_campaign_dag(own).deadline
    assert alert.interval == timedelta(seconds=600)
