"""DAG parsing, each measurement in a fresh Python process.

Dag-processor path: the process has ``airflow.sdk``, the DagBag and the task SDK's supervisor
imported already (the processor forks its parsing processes from a manager that has them: they
are ``WatchedSubprocess``es, as is the worker's task runner, so reading a connection costs no
import there; in a bare process it costs a noticeable import), then parses the file with ``BundleDagBag`` as
``airflow.dag_processing.processor._parse_file`` does, and serializes the DAGs as the processor
then does. The same is done for the floor file (benchmarks/floor_dags.py).

Worker path: ``_AIRFLOW_PARSING_CONTEXT_DAG_ID`` names one campaign, and the clock runs over what
the task runner does after ``import airflow.sdk``: the DAG file parsed by ``BundleDagBag``.

The campaigns are split over several DAG files (``dags/campaigns_<k>.py``, see CATALOG_PARTS in
include/campaigns/catalog.py). ``DAG_FILE`` stands for the whole set: :func:`parse_file` parses
each file in a fresh process, as the dag-processor does, and returns the set's totals (the sum of
the files' times) with each file's figures under ``files``. On the worker path the task runner
parses only the file that holds its DAG: that file's figures are returned. The floor can be split
the same way (:func:`parse_floor_set`: each file's campaigns in a process of its own, summed):
every parsing process pays Airflow's own start-up work (its first DAG, its first task of each
kind), which a floor of every campaign in one process pays once where the four files pay it four
times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.env import ROOT

DAG_DIR = ROOT / "dags"
DAG_FILES = sorted(DAG_DIR.glob("campaigns_*.py"))
DAG_FILE = DAG_DIR / "campaigns_*.py"  # the whole set of campaign DAG files
FLOOR_FILE = Path(__file__).resolve().parent / "floor_dags.py"

PARSE_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
from airflow.dag_processing.dagbag import BundleDagBag
import airflow.sdk.execution_time.supervisor  # both parsers fork from a process that has it
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
    defaults = {
        "retries": dag.default_args.get("retries"),
        "retry_exponential_backoff": dag.default_args.get("retry_exponential_backoff"),
    }
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
            kwargs.update(
                mode=t.mode,
                poke_interval=t.poke_interval.total_seconds()
                if hasattr(t.poke_interval, "total_seconds")
                else t.poke_interval,
                timeout=t.timeout.total_seconds() if hasattr(t.timeout, "total_seconds") else t.timeout,
            )
        tasks.append({"task_id": t.task_id, "sensor": sensor, "kwargs": kwargs})
    edges = sorted((t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids)
    params = {}
    for name in dag.params:
        param = dag.params.get_param(name)
        params[name] = {
            "value": param.value,
            "schema": {k: v for k, v in param.schema.items() if k != "description"},
            "description": param.description,
        }
    shape = {
        "tasks": tasks,
        "edges": edges,
        "params": params,
        "default_args": defaults,
        "deadline": bool(dag.deadline),
        "doc_md": dag.doc_md,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shape.json").write_text(json.dumps(shape, indent=1, default=str))
    (folder / "specs.json").write_text(json.dumps([s.to_json() for s in specs], default=str))
    # The worker path's floor: the same shape, one campaign.
    single = folder / "one"
    single.mkdir(exist_ok=True)
    (single / "shape.json").write_text((folder / "shape.json").read_text())
    (single / "specs.json").write_text(json.dumps([specs[0].to_json()], default=str))
    # Each DAG file's floor: the same shape, that file's campaigns.
    from include.campaigns.catalog import CATALOG_PARTS, in_part

    for part in range(CATALOG_PARTS):
        sub = folder / f"part_{part}"
        sub.mkdir(exist_ok=True)
        (sub / "shape.json").write_text((folder / "shape.json").read_text())
        (sub / "specs.json").write_text(json.dumps([s.to_json() for s in specs if in_part(s, part)], default=str))
    return len(specs)


def _python(script: str, args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=300
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    raise RuntimeError(f"parse subprocess failed ({proc.returncode}): {proc.stderr[-2000:]}")


def parse_file(
    path: Path, *, env_extra: dict[str, str] | None = None, serialize: bool = True, worker: bool = False
) -> dict:
    if path == DAG_FILE:
        return _parse_set(env_extra=env_extra, serialize=serialize, worker=worker)
    env = {**os.environ, **(env_extra or {})}
    script = PARSE_SCRIPT % {
        "load_op_links": "False",
        "safe_mode": "False" if worker else "True",
        "serialize": "True" if serialize else "False",
    }
    return _python(script, [str(path), str(path.parent)], env)


def parse_floor_set(floor_dir: Path, *, serialize: bool) -> dict:
    """The floor of the whole set: each DAG file's campaigns (export_floor_inputs' part_<k>) built
    by the floor file in a process of its own, as the dag-processor parses the four files; the
    set's totals, as :func:`_parse_set` sums them."""
    from include.campaigns.catalog import CATALOG_PARTS

    files = [
        {
            "file": f"part_{part}",
            **parse_file(
                FLOOR_FILE, serialize=serialize, env_extra={"BENCH_FLOOR_DIR": str(floor_dir / f"part_{part}")}
            ),
        }
        for part in range(CATALOG_PARTS)
    ]
    return {
        "parse_s": sum(f["parse_s"] for f in files),
        "serialize_s": sum(f["serialize_s"] for f in files) if serialize else None,
        "dags": sum(f["dags"] for f in files),
        "import_errors": {k: v for f in files for k, v in f["import_errors"].items()},
        "files": files,
    }


def _parse_set(*, env_extra: dict[str, str] | None, serialize: bool, worker: bool) -> dict:
    """Every campaign DAG file, each in its own process: the set's totals and each file's figures."""
    files = [
        {"file": f.name, **parse_file(f, env_extra=env_extra, serialize=serialize, worker=worker)} for f in DAG_FILES
    ]
    if worker:
        # The task runner parses the one file that holds its DAG; the others would build nothing.
        holding = [f for f in files if f["dags"]] or files[:1]
        return {**holding[0], "files": files}
    return {
        "import_sdk_s": max(f["import_sdk_s"] for f in files),
        "import_dagbag_s": max(f["import_dagbag_s"] for f in files),
        "parse_s": sum(f["parse_s"] for f in files),
        "serialize_s": sum(f["serialize_s"] for f in files) if serialize else None,
        "max_file_parse_s": max(f["parse_s"] for f in files),
        "dags": sum(f["dags"] for f in files),
        "import_errors": {k: v for f in files for k, v in f["import_errors"].items()},
        "files": files,
    }


def main() -> None:
    """Each DAG file against its floor, and the whole set against the floor's, on a running bench
    stack (``python -m benchmarks --keep-stack`` leaves one): ``python -m benchmarks.parsing``."""
    import argparse

    from benchmarks import env as bench_env

    parser = argparse.ArgumentParser(prog="python -m benchmarks.parsing")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _, started = bench_env.start_stack()
    try:
        _compare(args.runs)
    finally:
        if started:
            bench_env.stop_stack()


def _compare(runs: int) -> None:
    import statistics
    import tempfile

    floor_dir = Path(tempfile.mkdtemp(prefix="floor-"))
    count = export_floor_inputs(floor_dir)
    rows: dict[str, list[tuple[float, float]]] = {}
    for _ in range(runs):
        ours = parse_file(DAG_FILE, serialize=False)
        floor = parse_file(FLOOR_FILE, serialize=False, env_extra={"BENCH_FLOOR_DIR": str(floor_dir)})
        rows.setdefault(f"whole set, {ours['dags']:,} of {count:,} campaigns", []).append(
            (ours["parse_s"], floor["parse_s"])
        )
        split = parse_floor_set(floor_dir, serialize=False)
        rows.setdefault("whole set against the split floor", []).append((ours["parse_s"], split["parse_s"]))
        for f in ours["files"]:
            part = f["file"].split("_")[-1].split(".")[0]
            floor_part = parse_file(
                FLOOR_FILE, serialize=False, env_extra={"BENCH_FLOOR_DIR": str(floor_dir / f"part_{part}")}
            )
            rows.setdefault(f"{f['file']}, {f['dags']:,} campaigns", []).append((f["parse_s"], floor_part["parse_s"]))
    print(f"{'DAG file':40} {'ours (median)':>14} {'floor':>8} {'ratio':>6}")
    for label, values in rows.items():
        ours_s = statistics.median(v[0] for v in values)
        floor_s = statistics.median(v[1] for v in values)
        ratio = statistics.median(v[0] / v[1] for v in values)
        print(f"{label:40} {ours_s:>12.2f} s {floor_s:>6.2f} s {ratio:>5.2f}x")


if __name__ == "__main__":
    main()
