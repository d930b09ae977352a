"""On a worker, the task's first campaign connection is the one its DAG file's parse opened: one
connect per task start or sensor poke, and no PostgresHook import on the way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dev.seed import create_campaign

pytestmark = pytest.mark.integration
DAGS = Path(__file__).resolve().parents[2] / "dags"

# What the task runner does (parse the DAG file, then run the task), reduced to what is observed.
WORKER_TASK = """
import json, sys
import airflow.sdk
from airflow.dag_processing.dagbag import BundleDagBag
import psycopg
opened = []
real_connect = psycopg.Connection.connect.__func__
def counting_connect(cls, *args, **kwargs):
    conn = real_connect(cls, *args, **kwargs)
    opened.append(conn.info.backend_pid)
    return conn
psycopg.Connection.connect = classmethod(counting_connect)
psycopg.connect = psycopg.Connection.connect
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2], bundle_name="dags-folder",
                   load_op_links=False, safe_mode=False)
from include.campaigns.db import campaign_db
tasks, provider = [], None
for timeout_ms in (None, 5000):
    with campaign_db(statement_timeout_ms=timeout_ms) as conn:
        tasks.append({"pid": conn.info.backend_pid, "autocommit": conn.autocommit,
                      "prepare_threshold": conn.prepare_threshold,
                      "settings": conn.execute("SELECT current_setting('statement_timeout'), "
                                               "current_setting('lock_timeout')").fetchone()})
    if provider is None:   # what the first one imported
        provider = sorted(m for m in sys.modules if m.startswith("airflow.providers.postgres.hooks"))
print("RESULT " + json.dumps({"dags": sorted(bag.dag_ids), "opened": opened, "tasks": tasks,
                              "postgres_provider": provider}))
"""


def test_a_task_uses_the_connection_its_worker_parse_opened(db):
    from include.campaigns.catalog import CATALOG_PARTS

    campaign_id = create_campaign(db, "alpha")
    path = DAGS / f"campaigns_{campaign_id % CATALOG_PARTS}.py"
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "campaign_alpha"}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER_TASK, str(path), str(DAGS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(DAGS.parent),
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT ") :])
    assert result["dags"] == ["campaign_alpha"], result
    parse_pid, *others = result["opened"]
    first, second = result["tasks"]
    assert first["pid"] == parse_pid, "the task's first connection is the parse's"
    assert others == [second["pid"]], "only a later connection of the task is opened anew"
    assert result["postgres_provider"] == []
    # The task's own timeouts, not the catalog query's.
    assert first["settings"] == ["10min", "30s"]
    assert second["settings"] == ["5s", "5s"]
    assert first["autocommit"] and first["prepare_threshold"] is None


def test_the_dag_processor_parse_keeps_no_connection(db):
    """Only a worker's parse of its one campaign hands a connection over; a parse of the whole
    catalog closes its own."""
    from include.campaigns import db as campaign_db_module
    from include.campaigns.catalog import build_dags

    create_campaign(db, "alpha")
    build_dags(None, part=None)
    assert campaign_db_module._parse_connection == []
