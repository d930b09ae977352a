"""What a fleet of campaigns costs per poke: the task process a poke runs in is a fork of a process
that already imported what the poke and its DAG file need (airflow_local_settings.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Packages whose import a poke would otherwise pay for in every task process.
HEAVY = {"psycopg", "botocore", "boto3", "redis", "holidays", "phonenumbers", "include", "requests", "croniter"}

# Runs in a fresh interpreter, as a task process starts: Airflow's task runner is imported, then
# what the forking parent preloaded; then the worker's parse of the DAG file and one poke.
POKE_IN_A_TASK_PROCESS = """
import json, sys
import airflow.sdk.execution_time.task_runner, airflow.sdk.bases.sensor
import airflow_local_settings
airflow_local_settings.preload()
before = set(sys.modules)
from datetime import datetime, timedelta, timezone
from include.campaigns.catalog import build_dags
from include.campaigns.db import campaign_db
from include.campaigns.progress import poke
from include.campaigns.runs import RunContext
campaign_id, dag_id = int(sys.argv[1]), sys.argv[2]
dags = build_dags(dag_id, part=campaign_id % 4)
assert dag_id in dags, sorted(dags)
now = datetime.now(timezone.utc)
with campaign_db() as conn:
    poke(conn, campaign_id, RunContext(campaign_id=campaign_id, run_id="run-1", run_start=now - timedelta(minutes=1),
                                       run_end=now + timedelta(days=1), live=True))
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize(
    "argv, forks",
    [
        (["airflow", "scheduler"], True),
        (["airflow", "celery", "worker", "--celery-hostname", "worker-1@host"], True),
        (["airflow", "dag-processor"], True),
        (["airflow", "api-server", "--port", "8080"], False),
        (["airflow", "triggerer"], False),
        (["airflow", "dags", "test", "campaign_x"], False),
        (["pytest"], False),
    ],
)
def test_only_the_processes_that_fork_tasks_or_parses_preload(argv, forks):
    import airflow_local_settings

    assert airflow_local_settings.forks_tasks(argv) is forks


def test_a_poke_and_its_dag_parse_import_nothing_heavy_that_the_executor_did_not_preload(db, dial_queue, redis_client):
    from dev.seed import add_contacts, create_campaign
    from include.campaigns.campaign import load_campaign
    from include.campaigns.dispatch import dispatch
    from tests.helpers import open_zone, run_context, us_numbers

    campaign_id = create_campaign(
        db,
        "preloaded",
        poke_interval_s=60,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(5, seed=3)])
    assert dispatch(db, load_campaign(db, campaign_id), run_context(campaign_id)).sent == 5  # a poke with work

    done = subprocess.run(
        [sys.executable, "-c", POKE_IN_A_TASK_PROCESS, str(campaign_id), "campaign_preloaded"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY or m.startswith("airflow.providers."))
    assert heavy == [], f"imported in every task process, not preloaded: {heavy}"


def test_a_poke_takes_a_free_task_slot_before_any_other_task_of_any_campaign():
    """The scheduler queues scheduled task instances by priority weight: with a batch of new
    campaigns validating and dispatching, the running campaigns' pokes must not wait behind them."""
    from types import SimpleNamespace

    from airflow.task.priority_strategy import validate_and_load_priority_weight_strategy

    from include.campaigns.dag_factory import build_campaign_dag
    from tests.unit.test_dag_builder import spec

    def weight(task) -> int:  # as the scheduler weighs a task instance when it creates it
        return validate_and_load_priority_weight_strategy(task.weight_rule).get_weight(SimpleNamespace(task=task))

    for shards in (1, 4):
        dag = build_campaign_dag(spec(dispatch_shards=shards))
        poke = weight(dag.get_task("wait_for_completion"))
        others = {t.task_id: weight(t) for t in dag.tasks if t.task_id != "wait_for_completion"}
        assert all(poke > w for w in others.values()), (poke, others)
