"""The real dag-processor over a catalog that mixes good campaigns with adversarial rows:
every good campaign's DAG is saved and current, every bad one is named with its reason on its
row and in the dag-processor's log, and the dag-processor keeps running.

A plain DagBag parse does not write to Airflow's tables, so it cannot see a value that is too
long for a column there; only the dag-processor does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import zoneinfo
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dev.seed import create_campaign

pytestmark = pytest.mark.integration
PARSE_WAIT_S = 100
ZONES = zoneinfo.available_timezones()
LONG_DESCRIPTION_CRON = (
    ",".join(str(m) for m in range(60)) + " " + ",".join(str(h) for h in range(24)) + " 1,15 1,7,9 1,3"
)

# PostgreSQL text holds no NUL; everything else in Unicode is fair game.
text = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1)
good_text = lambda limit: text.filter(lambda t: t.strip()).map(lambda t: t[:limit])  # noqa: E731

# Each kind of bad row: the column it breaks, a strategy for the value, and words of its reason.
BAD_ROWS = {
    "end_infinity": ("end_at", st.just("infinity"), "end_at"),
    "start_minus_infinity": ("start_at", st.just("-infinity"), "start_at"),
    "far_future": ("end_at", st.sampled_from(["10000-06-01", "294000-01-01"]), "end_at"),
    "long_owner": ("owner", st.text(min_size=501, max_size=3000).filter(lambda t: "\x00" not in t), "owner is longer"),
    "long_name": ("name", st.text(min_size=201, max_size=5000).filter(lambda t: "\x00" not in t), "name is longer"),
    "bad_cron": (
        "schedule",
        st.sampled_from(["not a cron", "@once", "* * *", "61 * * * *", "0 0 * * * *"]),
        "schedule",
    ),
    "never_fires": ("schedule", st.sampled_from(["0 0 30 2 *", "0 0 31 4 *", "0 0 31 11 *"]), "never fires"),
    "long_description": ("schedule", st.just(LONG_DESCRIPTION_CRON), "describes to"),
    "folder_zone": (
        "timezone",
        st.sampled_from(["Europe", "America", "US", "Asia", "America/Argentina", "Etc"]),
        "is not an IANA time zone",
    ),
    "bad_zone": ("timezone", text.map(lambda t: t[:400]).filter(lambda t: t not in ZONES), "is not an IANA time zone"),
}
# Config is checked by validate_campaign at run time, not by the catalog: these still get a DAG.
BAD_CONFIGS = [
    {"dispatch_shards": "lots", "expected_duration_s": -1},
    {"max_attempts": 3_000_000_000, "dial_queue": 42, "retry_delays_s": {"busy": 3e9}},
]


def good_row():
    return st.fixed_dictionaries(
        {
            "name": good_text(200),
            "owner": good_text(500),
            "tz": st.sampled_from(["UTC", "America/Chicago", "Asia/Kolkata", "Pacific/Chatham", "Europe/Paris"]),
            "schedule": st.sampled_from([None, "0 10 * * 1-5", "*/15 8-20 * * *", "@daily", "30 9 1 * *"]),
        }
    )


def start_dag_processor(log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "CAMPAIGN_DEADLINE_ALERTS": "on", "PYTHONUNBUFFERED": "1"}
    airflow = str(Path(sys.executable).with_name("airflow"))
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [airflow, "dag-processor"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def dag_processor_logs() -> list[Path]:
    """The dag-processor's per-file logs, where the DAG files' own log lines go."""
    return sorted((Path(os.environ["AIRFLOW_HOME"]) / "logs" / "dag_processor").rglob("campaigns_*.py.log"))


def saved_dags(dag_ids: list[str], since: datetime) -> dict[str, tuple]:
    from sqlalchemy import text as sql

    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            sql(
                "SELECT dag_id, is_stale, has_import_errors FROM dag "
                "WHERE dag_id = ANY(:ids) AND last_parsed_time >= :since"
            ),
            {"ids": dag_ids, "since": since},
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def import_errors_since(since: datetime) -> list[tuple]:
    from sqlalchemy import text as sql

    from airflow.utils.session import create_session

    with create_session() as session:
        return session.execute(
            sql("SELECT filename, stacktrace FROM import_error WHERE timestamp >= :since"), {"since": since}
        ).fetchall()


@settings(
    max_examples=1,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(
    good=st.lists(good_row(), min_size=6, max_size=6),
    bad=st.fixed_dictionaries({kind: value for kind, (_, value, _) in BAD_ROWS.items()}),
)
def test_the_dag_processor_saves_every_good_campaign_and_names_every_bad_one(db, legacy_rows, tmp_path, good, bad):
    run = uuid.uuid4().hex[:6]
    good_ids = {}
    for k, row in enumerate(good):
        slug = f"g{run}_{k}"
        good_ids[slug] = create_campaign(
            db, slug, name=row["name"], owner=row["owner"], tz=row["tz"], schedule=row["schedule"], tags=["sales"]
        )
    for k, config in enumerate(BAD_CONFIGS):
        slug = f"c{run}_{k}"
        good_ids[slug] = create_campaign(db, slug, config=config)
    bad_ids = {}
    for kind, (column, _, _) in BAD_ROWS.items():
        slug = f"b{run}_{kind}"
        bad_ids[kind] = create_campaign(db, slug, schedule="0 10 * * *")
        db.execute(f"UPDATE campaigns SET {column} = %s WHERE id = %s", (bad[kind], bad_ids[kind]))

    since = datetime.now(timezone.utc)
    proc = start_dag_processor(tmp_path / "dag-processor.log")
    try:
        wanted = [f"campaign_{slug}" for slug in good_ids]
        deadline = time.monotonic() + PARSE_WAIT_S
        while time.monotonic() < deadline:
            saved = saved_dags(wanted, since)
            reasons = dict(
                db.execute(
                    "SELECT id, catalog_error FROM campaigns WHERE id = ANY(%s)", (list(bad_ids.values()),)
                ).fetchall()
            )
            if len(saved) == len(wanted) and all(reasons.values()):
                break
            assert proc.poll() is None, (tmp_path / "dag-processor.log").read_text()[-3000:]
            time.sleep(1)
        time.sleep(2)  # one more write cycle: a crash on saving would show now
        alive = proc.poll() is None
    finally:
        stop(proc)
    log = (tmp_path / "dag-processor.log").read_text(errors="replace")

    assert alive, log[-3000:]
    assert saved_dags(wanted, since) == {dag_id: (False, False) for dag_id in wanted}
    assert saved_dags([f"campaign_b{run}_{kind}" for kind in BAD_ROWS], since) == {}
    assert [e for e in import_errors_since(since) if "campaigns_" in e[0]] == []
    assert "StringDataRightTruncation" not in log and "PendingRollbackError" not in log
    for kind, (_, _, words) in BAD_ROWS.items():
        assert reasons[bad_ids[kind]] and words in reasons[bad_ids[kind]], (kind, reasons[bad_ids[kind]])
    processor_log = "".join(
        f.read_text(errors="replace") for f in dag_processor_logs() if f.stat().st_mtime >= since.timestamp()
    )
    for kind, campaign_id in bad_ids.items():
        assert f"Campaign b{run}_{kind} (id {campaign_id}) has no DAG: " in processor_log, kind
    stored = dict(
        db.execute("SELECT id, catalog_error FROM campaigns WHERE id = ANY(%s)", (list(good_ids.values()),)).fetchall()
    )
    assert set(stored.values()) == {None}
