"""DAG parsing, each measurement in a fresh Python process.

Dag-processor path: the process has ``airflow.sdk`` and the DagBag imported already (the
processor forks from a manager that has them), then parses the file with ``BundleDagBag`` as
``airflow.dag_processing.processor._parse_file`` does, and serializes the DAGs as the processor
then does. The same is done for the floor file (benchmarks/floor_dags.py).

Worker path: ``_AIRFLOW_PARSING_CONTEXT_DAG_ID`` names one campaign, and the clock runs over what
the task runner does after ``import airflow.sdk``: the DAG file parsed by ``BundleDagBag``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.env import ROOT

DAG_FILE = ROOT / "dags" / "campaigns.py"
FLOOR_FILE = Path(__file__).resolve().parent / "floor_dags.py"

PARSE_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
from airflow.dag_processing.dagbag import BundleDagBag
t2 = time.perf_counter()
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2], bundle_name="dags-folder",
                   load_op_links=%(load_op_links)s, safe_mode=%(safe_mode)s)
t3 = time.perf_counter()
serialize_s = None
if %(serialize)s:
    import structlog
    from airflow.dag_processing.processor import _serialize_dags
    t4 = time.perf_counter()
    serialized, errors = _serialize_dags(bag, structlog.get_logger())
    serialize_s = time.perf_counter() - t4
    bag.import_errors.update(errors)
print("BENCH-RESULT " + json.dumps({
    "import_sdk_s": t1 - t0, "import_dagbag_s": t2 - t1, "parse_s": t3 - t2, "serialize_s": serialize_s,
    "dags": len(bag.dags), "import_errors": {k: v[-400:] for k, v in bag.import_errors.items()},
}))
"""


def export_floor_inputs(folder: Path) -> int:
    """The catalog as the DAG file reads it, and the shape of one real campaign DAG, for the floor."""
    from airflow.sdk import BaseSensorOperator

    from include.campaigns.catalog import load_catalog
    from include.campaigns.dag_factory import build_campaign_dag

    specs = load_catalog()
    dag = build_campaign_dag(specs[0])
    defaults = {"retries": dag.default_args.get("retries"),
                "retry_exponential_backoff": dag.default_args.get("retry_exponential_backoff")}
    tasks = []
    for t in dag.tasks:
        kwargs = {}
        if t.trigger_rule != "all_success":
            kwargs["trigger_rule"] = str(t.trigger_rule.value if hasattr(t.trigger_rule, "value") else t.trigger_rule)
        if t.pool != "default_pool":
            kwargs["pool"] = t.pool
        if t.retries != defaults["retries"]:
            kwargs["retries"] = t.retries
        sensor = isinstance(t, BaseSensorOperator)
        if sensor:
            kwargs.update(mode=t.mode, poke_interval=t.poke_interval.total_seconds()
                          if hasattr(t.poke_interval, "total_seconds") else t.poke_interval,
                          timeout=t.timeout.total_seconds() if hasattr(t.timeout, "total_seconds") else t.timeout)
        tasks.append({"task_id": t.task_id, "sensor": sensor, "kwargs": kwargs})
    edges = sorted((t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids)
    params = {}
    for name in dag.params:
        param = dag.params.get_param(name)
        params[name] = {"value": param.value, "schema": {k: v for k, v in param.schema.items() if k != "description"},
                        "description": param.description}
    shape = {"tasks": tasks, "edges": edges, "params": params, "default_args": defaults,
             "deadline": bool(dag.deadline), "doc_md": dag.doc_md}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shape.json").write_text(json.dumps(shape, indent=1, default=str))
    (folder / "specs.json").write_text(json.dumps([s.to_json() for s in specs], default=str))
    # The worker path's floor: the same shape, one campaign.
    single = folder / "one"
    single.mkdir(exist_ok=True)
    (single / "shape.json").write_text((folder / "shape.json").read_text())
    (single / "specs.json").write_text(json.dumps([specs[0].to_json()], default=str))
    return len(specs)


def _python(script: str, args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    raise RuntimeError(f"parse subprocess failed ({proc.returncode}): {proc.stderr[-2000:]}")


def parse_file(path: Path, *, env_extra: dict[str, str] | None = None, serialize: bool = True,
               worker: bool = False) -> dict:
    env = {**os.environ, **(env_extra or {})}
    script = PARSE_SCRIPT % {"load_op_links": "False", "safe_mode": "False" if worker else "True",
                             "serialize": "True" if serialize else "False"}
    return _python(script, [str(path), str(path.parent)], env)
