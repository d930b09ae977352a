"""Each DAG file checks the rules of its own campaigns' rows only; the snapshot it writes is the
same whichever file wrote it, and a row that breaks a rule is refused again when read from it."""

from __future__ import annotations

import json

import pytest

from dev.seed import create_campaign

pytestmark = pytest.mark.integration


@pytest.fixture
def snapshot(tmp_path, monkeypatch):
    path = tmp_path / "catalog.json"
    monkeypatch.setenv("CAMPAIGN_CATALOG_SNAPSHOT", str(path))
    return path


def test_a_dag_file_checks_only_its_own_campaigns_rows(db, snapshot, monkeypatch):
    from include.campaigns import campaign_row
    from include.campaigns.catalog import CATALOG_PARTS, build_dags

    ids = [create_campaign(db, f"c{i}") for i in range(2 * CATALOG_PARTS)]
    checked = []
    real = campaign_row.row_problems

    def counting(row):
        checked.append(row["id"])
        return real(row)

    monkeypatch.setattr(campaign_row, "row_problems", counting)
    dags = build_dags(None, part=1)
    assert sorted(dags) == sorted(f"campaign_c{i}" for i, cid in enumerate(ids) if cid % CATALOG_PARTS == 1)
    assert sorted(checked) == sorted(cid for cid in ids if cid % CATALOG_PARTS == 1)


def test_every_dag_file_writes_the_same_snapshot_and_a_bad_row_stays_refused(db, snapshot, legacy_rows):
    from include.campaigns.catalog import CATALOG_PARTS, build_dags

    ids = [create_campaign(db, f"c{i}") for i in range(CATALOG_PARTS)]
    bad = ids[2]
    db.execute("UPDATE campaigns SET owner = '' WHERE id = %s", (bad,))  # a rule, not the row's shape
    written = set()
    for part in range(CATALOG_PARTS):
        snapshot.unlink(missing_ok=True)
        build_dags(None, part=part)
        written.add(snapshot.read_text())
    assert len(written) == 1, "every DAG file writes the same snapshot"
    assert sorted(c["id"] for c in json.loads(written.pop())) == sorted(ids)
    error = db.execute("SELECT catalog_error FROM campaigns WHERE id = %s", (bad,)).fetchone()[0]
    assert "owner is empty" in error

    # What the outage fallback reads from the snapshot: the bad row is refused again.
    from include.campaigns.catalog import _read_json

    specs, refused = _read_json(snapshot)
    assert sorted(s.id for s in specs) == sorted(set(ids) - {bad})
    assert [(r.campaign_id, r.reason) for r in refused] == [(bad, "owner is empty")]
