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
    catalog.write_text(
        json.dumps(
            [
                {
                    "id": 99,
                    "slug": "from_git",
                    "name": "From Git",
                    "schedule": "0 9 * * *",
                    "timezone": "Europe/Paris",
                    "start_at": "2026-01-01T00:00:00+00:00",
                    "end_at": "2027-01-01T00:00:00+00:00",
                    "status": "scheduled",
                    "owner": "ops",
                    "tags": [],
                    "poke_interval_s": 30,
                }
            ]
        )
    )
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
        f"campaigns_{ids['beta'] % CATALOG_PARTS}.py": ["campaign_beta"]
    }


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
    under it) costs on every task start and sensor poke (benchmarks/README.md)."""
    import os
    import subprocess
    import sys

    from include.campaigns.catalog import CATALOG_PARTS

    campaign_id = create_campaign(db, "alpha")
    create_campaign(db, "beta")
    path = DAGS / f"campaigns_{campaign_id % CATALOG_PARTS}.py"
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "campaign_alpha"}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER_PARSE, str(path), str(DAGS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(DAGS.parent),
    )
    [line] = [out for out in proc.stdout.splitlines() if out.startswith("RESULT ")]
    result = json.loads(line[len("RESULT ") :])
    assert result == {"dags": ["campaign_alpha"], "errors": [], "postgres_provider": []}, proc.stderr[-2000:]


def test_parse_time_connection_matches_the_task_connection(db):
    """Same server, user and extras as PostgresHook's connection; autocommit, no server-side
    prepared statements, and the catalog's statement timeout."""
    from include.campaigns.db import campaign_db, parse_time_db

    query = (
        "SELECT current_user, current_database(), current_setting('application_name'), "
        "current_setting('statement_timeout')"
    )
    with parse_time_db(statement_timeout_ms=3000) as conn:
        assert conn.autocommit and conn.prepare_threshold is None
        parse_time = conn.execute(query).fetchone()
    with campaign_db(statement_timeout_ms=3000) as conn:
        assert conn.autocommit and conn.prepare_threshold is None
        task_time = conn.execute(query).fetchone()
    assert parse_time == task_time
    assert parse_time[3] == "3s"


# --------------------------------------------------------------------------------------------
# One bad row harms no one else
# --------------------------------------------------------------------------------------------


def catalog_errors(db) -> dict[str, str | None]:
    return dict(db.execute("SELECT slug, catalog_error FROM campaigns ORDER BY slug").fetchall())


def test_a_row_with_an_infinite_or_far_future_date_leaves_out_only_its_own_dag(db, snapshot, legacy_rows):
    good = ["alpha", "beta", "gamma", "delta"]
    for slug in good:
        create_campaign(db, slug)
    parse()  # a snapshot exists: the bad rows below must not send the loader back to it
    for slug in ("ends_never", "starts_before_time", "far_future"):
        create_campaign(db, slug)
    db.execute("UPDATE campaigns SET end_at = 'infinity' WHERE slug = 'ends_never'")
    db.execute("UPDATE campaigns SET start_at = '-infinity' WHERE slug = 'starts_before_time'")
    db.execute("UPDATE campaigns SET end_at = '12000-01-01' WHERE slug = 'far_future'")
    create_campaign(db, "added_after")

    parsed = parse()

    assert parsed.import_errors == {}
    assert parsed.dag_ids == sorted(f"campaign_{s}" for s in good + ["added_after"])
    errors = catalog_errors(db)
    assert errors["ends_never"].startswith("end_at ") and "years 1..9999" in errors["ends_never"]
    assert errors["starts_before_time"].startswith("start_at ")
    assert errors["far_future"].startswith("end_at ")
    assert all(errors[s] is None for s in good + ["added_after"])


@pytest.mark.parametrize(
    "column, value, reason",
    [
        ("schedule", "not a cron", "is not a 5-field cron expression"),
        ("schedule", "@once", "is not a 5-field cron expression"),
        ("schedule", "0 0 30 2 *", "never fires"),
        ("timezone", "Mars/Olympus", "is not an IANA time zone"),
        ("timezone", "Europe", "is not an IANA time zone"),
        ("owner", "o" * 3000, "owner is longer than the 500 characters Airflow stores"),
    ],
)
def test_a_bad_schedule_zone_or_owner_leaves_out_only_its_campaign_with_deadline_alerts_on(
    db, snapshot, legacy_rows, monkeypatch, caplog, column, value, reason
):
    monkeypatch.setenv("CAMPAIGN_DEADLINE_ALERTS", "on")
    # Four neighbours in every DAG file, the bad one among them.
    good = [f"good_{k}" for k in range(8)]
    ids = [create_campaign(db, slug, schedule="0 10 * * 1-5") for slug in good[:4]]
    bad_id = create_campaign(db, "bad_one", schedule="0 10 * * *")
    ids += [create_campaign(db, slug) for slug in good[4:]]
    db.execute(f"UPDATE campaigns SET {column} = %s WHERE id = %s", (value, bad_id))

    parsed = parse()

    assert parsed.import_errors == {}
    assert parsed.dag_ids == sorted(f"campaign_{s}" for s in good)
    assert reason in catalog_errors(db)["bad_one"]
    assert f"Campaign bad_one (id {bad_id}) has no DAG" in caplog.text


def test_a_fixed_campaign_gets_its_dag_back_and_its_reason_cleared(db, snapshot, legacy_rows):
    create_campaign(db, "alpha")
    campaign_id = create_campaign(db, "wobbly", schedule="0 9 * * *")
    db.execute("UPDATE campaigns SET timezone = 'US' WHERE id = %s", (campaign_id,))
    assert parse().dag_ids == ["campaign_alpha"]
    stamped = db.execute("SELECT catalog_error_at FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0]
    assert stamped is not None

    db.execute("UPDATE campaigns SET timezone = 'America/Chicago' WHERE id = %s", (campaign_id,))
    assert parse().dag_ids == ["campaign_alpha", "campaign_wobbly"]
    assert db.execute(
        "SELECT catalog_error, catalog_error_at FROM campaigns WHERE id = %s", (campaign_id,)
    ).fetchone() == (None, None)


def test_the_campaigns_overview_and_page_json_carry_each_campaigns_catalog_error(db, snapshot, legacy_rows):
    from include.campaigns.db import fetch_all

    create_campaign(db, "alpha")
    bad = create_campaign(db, "zoned_out")
    db.execute("UPDATE campaigns SET timezone = 'Europe' WHERE id = %s", (bad,))
    parse()
    rows = {r["slug"]: r for r in fetch_all(db, "campaigns_overview", {"include_archived": False})}
    assert rows["alpha"]["catalog_error"] is None
    assert "timezone 'Europe' is not an IANA time zone" in rows["zoned_out"]["catalog_error"]
    assert rows["zoned_out"]["catalog_error_at"] is not None
    from plugins.campaigns_page import campaign_view

    shown = campaign_view(rows["zoned_out"])
    assert shown["catalog_error"] == rows["zoned_out"]["catalog_error"] and shown["catalog_error_at"]
    assert campaign_view(rows["alpha"])["catalog_error"] is None


@pytest.mark.parametrize(
    "column, value",
    [
        ("end_at", "infinity"),
        ("start_at", "-infinity"),
        ("end_at", "10000-01-01"),
        ("owner", "o" * 501),
        ("owner", ""),
        ("name", "n" * 201),
        ("schedule", "*" * 256),
        ("tags", ["t" * 101]),
        ("timezone", "Europe"),
        ("timezone", "Mars/Olympus"),
        ("timezone", "x" * 300),
    ],
)
def test_the_database_refuses_a_row_that_could_never_become_a_dag(db, column, value):
    import psycopg

    campaign_id = create_campaign(db, "alpha")
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(f"UPDATE campaigns SET {column} = %s WHERE id = %s", (value, campaign_id))
    with pytest.raises(psycopg.errors.CheckViolation):
        create_campaign(
            db, "beta", **{{"timezone": "tz", "start_at": "start_at", "end_at": "end_at"}.get(column, column): value}
        )


GIT_ENTRY = {
    "schedule": "0 9 * * *",
    "timezone": "Europe/Paris",
    "start_at": "2026-01-01T00:00:00+00:00",
    "end_at": "2027-01-01T00:00:00+00:00",
    "status": "scheduled",
    "owner": "ops",
    "tags": [],
    "poke_interval_s": 30,
}


def test_a_bad_entry_in_the_catalog_file_is_left_out_and_the_others_build(db, tmp_path, snapshot, monkeypatch, caplog):
    entries = [
        {**GIT_ENTRY, "id": 1, "slug": "from_git", "name": "From Git"},
        {**GIT_ENTRY, "id": 2, "slug": "no_owner", "name": "No owner", "owner": None},
        {**GIT_ENTRY, "id": 3, "slug": "folder_zone", "name": "Folder zone", "timezone": "America"},
        {**GIT_ENTRY, "id": 4, "slug": "never", "name": "Never", "schedule": "0 0 30 2 *"},
        {**GIT_ENTRY, "id": 5, "slug": "endless", "name": "Endless", "end_at": "infinity"},
        {"id": 6, "slug": "half"},
        "not an object",
        {**GIT_ENTRY, "id": 8, "slug": "also_from_git", "name": "Also from Git"},
    ]
    catalog = tmp_path / "campaigns.json"
    catalog.write_text(json.dumps(entries))
    monkeypatch.setenv("CAMPAIGN_CATALOG_FILE", str(catalog))

    parsed = parse()

    assert parsed.import_errors == {}
    assert parsed.dag_ids == ["campaign_also_from_git", "campaign_from_git"]
    for words in (
        "Campaign no_owner (id 2) has no DAG: owner is empty",
        "Campaign folder_zone (id 3) has no DAG: timezone 'America' is not an IANA time zone",
        "Campaign never (id 4) has no DAG: schedule '0 0 30 2 *' never fires",
        "Campaign endless (id 5) has no DAG: end_at",
        "Campaign half (id 6) has no DAG",
        "entry is a str, not an object",
    ):
        assert words in caplog.text, words


@pytest.mark.parametrize("content", [None, "{not json", '{"a": 1}'])
def test_an_unreadable_catalog_file_falls_back_to_the_snapshot(db, tmp_path, snapshot, monkeypatch, caplog, content):
    catalog = tmp_path / "campaigns.json"
    catalog.write_text(json.dumps([{**GIT_ENTRY, "id": 1, "slug": "from_git", "name": "From Git"}]))
    monkeypatch.setenv("CAMPAIGN_CATALOG_FILE", str(catalog))
    assert parse().dag_ids == ["campaign_from_git"]

    if content is None:
        catalog.unlink()
    else:
        catalog.write_text(content)
    parsed = parse()

    assert parsed.import_errors == {}
    assert parsed.dag_ids == ["campaign_from_git"]
    assert "building DAGs from the snapshot" in caplog.text


def test_a_campaign_whose_dag_fails_to_serialize_is_left_out_with_the_error(db, snapshot, legacy_rows, monkeypatch):
    # A zone the row rules let through (as a zone Python knows but pendulum does not would be)
    # still fails Airflow's serialization: the catalog catches that per campaign too.
    from include.campaigns import campaign_row as rules

    monkeypatch.setattr(rules, "known_timezone", lambda name: True)
    create_campaign(db, "alpha", schedule="0 9 * * *")
    bad = create_campaign(db, "martian", schedule="0 9 * * *")
    db.execute("UPDATE campaigns SET timezone = 'Mars/Olympus' WHERE id = %s", (bad,))

    parsed = parse()

    assert parsed.import_errors == {}
    assert parsed.dag_ids == ["campaign_alpha"]
    assert catalog_errors(db)["martian"].startswith("DAG could not be built: InvalidTimezone")
