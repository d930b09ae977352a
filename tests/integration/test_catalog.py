"""The catalog loader: one DAG per campaign, a one-campaign worker path, and a database outage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dev import stack
from dev.seed import create_campaign

pytestmark = pytest.mark.integration
DAGS = Path(__file__).resolve().parents[2] / "dags"


class Parsed:
    """What the campaign DAG files yield together, each parsed on its own as the dag-processor does."""

    def __init__(self):
        from airflow.dag_processing.dagbag import DagBag

        self.by_file = {path.name: DagBag(dag_folder=str(path)) for path in sorted(DAGS.glob("campaigns_*.py"))}
        self.dag_ids = sorted(d for bag in self.by_file.values() for d in bag.dag_ids)
        self.import_errors = {k: v for bag in self.by_file.values() for k, v in bag.import_errors.items()}


def parse() -> Parsed:
    return Parsed()


@pytest.fixture
def snapshot(tmp_path, monkeypatch):
    path = tmp_path / "catalog.json"
    monkeypatch.setenv("CAMPAIGN_CATALOG_SNAPSHOT", str(path))
    return path


@pytest.fixture
def postgres_outage():
    """Stop the real PostgreSQL server for the test body; start it again afterwards."""
    def stop():
        stack._stop_postgres()
        assert not stack.status()["postgres"]["running"]

    yield stop
    stack.start()


def test_loader_falls_back_to_the_snapshot_when_postgres_is_down(db, snapshot, postgres_outage, caplog):
    create_campaign(db, "alpha")
    create_campaign(db, "beta")
    assert sorted(parse().dag_ids) == ["campaign_alpha", "campaign_beta"]
    assert [c["slug"] for c in json.loads(snapshot.read_text())] == ["alpha", "beta"]

    postgres_outage()
    bag = parse()

    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["campaign_alpha", "campaign_beta"]
    assert "building DAGs from the snapshot" in caplog.text


def test_first_parse_with_no_database_and_no_snapshot_is_an_import_error(db, snapshot, postgres_outage):
    create_campaign(db, "alpha")
    postgres_outage()
    bag = parse()
    assert bag.dag_ids == []
    assert len(bag.import_errors) == len(bag.by_file)
    assert all("no catalog snapshot" in error for error in bag.import_errors.values())


def test_worker_parse_builds_only_the_campaign_it_runs(db, snapshot, monkeypatch):
    create_campaign(db, "alpha")
    create_campaign(db, "beta")
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "campaign_beta")
    assert parse().dag_ids == ["campaign_beta"]
    assert not snapshot.exists(), "a one-campaign parse must not overwrite the full snapshot"


def test_snapshot_is_rewritten_only_when_the_catalog_changes(db, snapshot):
    create_campaign(db, "alpha")
    parse()
    first = snapshot.stat().st_mtime_ns
    parse()
    assert snapshot.stat().st_mtime_ns == first
    create_campaign(db, "beta")
    parse()
    assert [c["slug"] for c in json.loads(snapshot.read_text())] == ["alpha", "beta"]


def test_archived_campaigns_have_no_dag(db, snapshot):
    create_campaign(db, "alpha")
    create_campaign(db, "gone", status="archived")
    assert parse().dag_ids == ["campaign_alpha"]


def test_a_catalog_file_replaces_the_query(db, tmp_path, monkeypatch):
    from include.campaigns.catalog import load_catalog

    create_campaign(db, "in_database")
    catalog = tmp_path / "campaigns.json"
    catalog.write_text(json.dumps([{
        "id": 99, "slug": "from_git", "name": "From Git", "schedule": "0 9 * * *", "timezone": "Europe/Paris",
        "start_at": "2026-01-01T00:00:00+00:00", "end_at": "2027-01-01T00:00:00+00:00", "status": "scheduled",
        "owner": "ops", "tags": [], "poke_interval_s": 30}]))
    monkeypatch.setenv("CAMPAIGN_CATALOG_FILE", str(catalog))
    assert [s.dag_id for s in load_catalog()] == ["campaign_from_git"]
    assert parse().dag_ids == ["campaign_from_git"]


def test_each_campaign_is_built_by_exactly_one_dag_file_chosen_by_its_id(db, snapshot):
    from include.campaigns.catalog import CATALOG_PARTS

    assert sorted(p.name for p in DAGS.glob("campaigns_*.py")) == [f"campaigns_{k}.py" for k in range(CATALOG_PARTS)]
    ids = {slug: create_campaign(db, slug) for slug in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")}
    parsed = parse()
    assert parsed.import_errors == {}
    assert parsed.dag_ids == sorted(f"campaign_{slug}" for slug in ids)
    for slug, campaign_id in ids.items():
        holders = [name for name, bag in parsed.by_file.items() if f"campaign_{slug}" in bag.dag_ids]
        assert holders == [f"campaigns_{campaign_id % CATALOG_PARTS}.py"]
    # Every part writes the same, complete snapshot.
    assert sorted(c["slug"] for c in json.loads(snapshot.read_text())) == sorted(ids)


def test_worker_parse_builds_one_dag_in_its_own_file_and_nothing_in_the_others(db, snapshot, monkeypatch):
    from include.campaigns.catalog import CATALOG_PARTS

    ids = {slug: create_campaign(db, slug) for slug in ("alpha", "beta", "gamma")}
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "campaign_beta")
    parsed = parse()
    assert {name: bag.dag_ids for name, bag in parsed.by_file.items() if bag.dag_ids} == {
        f"campaigns_{ids['beta'] % CATALOG_PARTS}.py": ["campaign_beta"]}


WORKER_PARSE = """
import json, sys
import airflow.sdk
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2], bundle_name="dags-folder",
                   load_op_links=False, safe_mode=False)
print("RESULT " + json.dumps({"dags": sorted(bag.dag_ids), "errors": list(bag.import_errors),
                              "postgres_provider": sorted(m for m in sys.modules
                                                          if m.startswith("airflow.providers.postgres.hooks")
                                                          or m.startswith("airflow.providers.common.sql.hooks"))}))
"""


def test_worker_parse_reads_the_catalog_without_the_postgres_provider(db, snapshot):
    """The worker path reads the catalog with psycopg itself: importing PostgresHook (and common-sql
    under it) cost 50-60 ms over psycopg alone on every task start and sensor poke."""
    import os
    import subprocess
    import sys

    from include.campaigns.catalog import CATALOG_PARTS

    campaign_id = create_campaign(db, "alpha")
    create_campaign(db, "beta")
    path = DAGS / f"campaigns_{campaign_id % CATALOG_PARTS}.py"
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "campaign_alpha"}
    proc = subprocess.run([sys.executable, "-c", WORKER_PARSE, str(path), str(DAGS)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=str(DAGS.parent))
    [line] = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    result = json.loads(line[len("RESULT "):])
    assert result == {"dags": ["campaign_alpha"], "errors": [], "postgres_provider": []}, proc.stderr[-2000:]


def test_parse_time_connection_matches_the_task_connection(db):
    """Same server, user and extras as PostgresHook's connection; autocommit, no server-side
    prepared statements, and the catalog's statement timeout."""
    from include.campaigns.db import campaign_db, parse_time_db

    query = ("SELECT current_user, current_database(), current_setting('application_name'), "
             "current_setting('statement_timeout')")
    with parse_time_db(statement_timeout_ms=3000) as conn:
        assert conn.autocommit and conn.prepare_threshold is None
        parse_time = conn.execute(query).fetchone()
    with campaign_db(statement_timeout_ms=3000) as conn:
        assert conn.autocommit and conn.prepare_threshold is None
        task_time = conn.execute(query).fetchone()
    assert parse_time == task_time
    assert parse_time[3] == "3s"
