"""The catalog loader: one DAG per campaign, a one-campaign worker path, and a database outage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dev import stack
from dev.seed import create_campaign

pytestmark = pytest.mark.integration
DAGS = Path(__file__).resolve().parents[2] / "dags"


def parse():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS / "campaigns.py"))


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
    [error] = bag.import_errors.values()
    assert "no catalog snapshot" in error


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
