"""The parsing floor: Airflow building the same DAGs as dags/campaigns_*.py, with empty callables.

A DAG file for the benchmark only (outside the DAGs folder). It reads the campaigns and the shape
of one real campaign DAG (tasks, their kinds and arguments, edges, params, deadline), both
exported by the harness into $BENCH_FLOOR_DIR, and builds one DAG per campaign with the same
arguments. What it leaves out is exactly what the product adds: the catalog query, the product's
imports, and the work inside the factory.
"""

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference, Param, task

_DIR = Path(os.environ["BENCH_FLOOR_DIR"])
SHAPE = json.loads((_DIR / "shape.json").read_text())
SPECS = json.loads((_DIR / "specs.json").read_text())


async def on_run_too_slow(**kwargs):
    """Never called: a deadline alert needs an awaitable."""


def _noop(**context):
    return None


def _sensor_noop(**context):
    return True


def build(spec: dict) -> DAG:
    if spec["schedule"]:
        from airflow.sdk import CronTriggerTimetable

        schedule = CronTriggerTimetable(spec["schedule"], timezone=spec["timezone"])
    else:
        schedule = "@once"
    deadline = None
    if SHAPE["deadline"]:
        deadline = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(hours=2),
            callback=AsyncCallback(on_run_too_slow, kwargs={"campaign_id": spec["id"]}),
        )
    with DAG(
        dag_id=f"campaign_{spec['slug']}",
        description=f"Outbound call campaign: {spec['name']}",
        doc_md=SHAPE["doc_md"],
        schedule=schedule,
        start_date=datetime.fromisoformat(spec["start_at"]),
        end_date=datetime.fromisoformat(spec["end_at"]) - timedelta(seconds=1) if spec["schedule"] else None,
        catchup=False,
        max_active_runs=1,
        default_args={
            **SHAPE["default_args"],
            "retry_delay": timedelta(seconds=2),
            "max_retry_delay": timedelta(minutes=2),
            "owner": spec["owner"],
        },
        params={
            name: Param(p["value"], description=p.get("description"), **p["schema"])
            for name, p in SHAPE["params"].items()
        },
        tags=sorted({"campaign", "outbound", "recurring" if spec["schedule"] else "one-off"} | set(spec["tags"])),
        is_paused_upon_creation=False,
        deadline=deadline,
    ) as dag:
        made = {}
        for t in SHAPE["tasks"]:
            kwargs = dict(t["kwargs"])
            if t["sensor"]:
                made[t["task_id"]] = task.sensor(task_id=t["task_id"], **kwargs)(_sensor_noop)()
            else:
                made[t["task_id"]] = task(task_id=t["task_id"], **kwargs)(_noop)()
        for upstream, downstream in SHAPE["edges"]:
            made[upstream] >> made[downstream]
    return dag


for _spec in SPECS:
    globals()[f"campaign_{_spec['slug']}"] = build(_spec)
