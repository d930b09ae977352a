"""Nothing waits for ever: task connections carry statement and lock timeouts, and a poke that
meets an operator's open transaction gives up, says so, and finishes at a later poke."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from dev.seed import add_contacts, create_campaign
from tests.helpers import us_numbers

pytestmark = pytest.mark.integration


def test_every_task_connection_has_a_statement_and_a_lock_timeout(db):
    from include.campaigns.db import DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS, campaign_db

    with campaign_db() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == f"{DEFAULT_STATEMENT_TIMEOUT_MS // 60000}min"
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == f"{DEFAULT_LOCK_TIMEOUT_MS // 1000}s"


def test_the_timeouts_can_be_tuned_by_environment(db, monkeypatch):
    from include.campaigns.db import campaign_db

    monkeypatch.setenv("CAMPAIGN_DB_STATEMENT_TIMEOUT_MS", "90000")
    monkeypatch.setenv("CAMPAIGN_DB_LOCK_TIMEOUT_MS", "1500")
    with campaign_db() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "90s"
        assert conn.execute("SHOW lock_timeout").fetchone()[0] == "1500ms"


class OperatorTransaction:
    """A second session holding the campaign row, as a GUI client with autocommit off does after
    an UPDATE it never commits; it lets go at ``release()`` or after ``hold_s``."""

    def __init__(self, campaign_id: int, hold_s: float):
        import psycopg

        from include.campaigns.db import campaign_db

        self._cm = campaign_db()
        self.conn = self._cm.__enter__()
        self.conn.autocommit = False
        self.conn.execute("SELECT id FROM campaigns WHERE id = %s FOR UPDATE", (campaign_id,))
        self._done = threading.Event()
        self._timer = threading.Timer(hold_s, self.release)
        self._timer.start()
        self._psycopg = psycopg

    def release(self):
        if not self._done.is_set():
            self._done.set()
            self.conn.rollback()
            self._timer.cancel()
            self._cm.__exit__(None, None, None)


def poke_callable(campaign_id: int):
    from include.campaigns.catalog import load_catalog
    from include.campaigns.dag_factory import build_campaign_dag

    [spec] = [s for s in load_catalog() if s.id == campaign_id]
    return build_campaign_dag(spec).get_task("wait_for_completion").python_callable


def test_a_poke_meeting_an_open_transaction_gives_up_in_time_and_a_later_poke_finishes(db, monkeypatch, caplog):
    monkeypatch.setenv("CAMPAIGN_DB_LOCK_TIMEOUT_MS", "500")
    campaign_id = create_campaign(db, "locked_out", status="active")
    add_contacts(db, campaign_id, [{"phone": p} for p in us_numbers(3, seed=5)])
    # Nothing is left to call, so this poke finishes the run: it writes the campaign row.
    db.execute("UPDATE contacts SET status = 'completed' WHERE campaign_id = %s", (campaign_id,))
    context = {
        "dag_run": SimpleNamespace(
            run_id="manual__locked_out", run_type="manual", run_after=datetime.now(timezone.utc), clear_number=0
        ),
        "params": {"dry_run": False, "max_contacts": None, "dispatch": True, "notify": True},
    }
    poke = poke_callable(campaign_id)

    operator = OperatorTransaction(campaign_id, hold_s=15)
    try:
        started = time.monotonic()
        held = poke(**context)
        took = time.monotonic() - started
    finally:
        operator.release()

    assert held.is_done is False
    assert took < 5, f"the poke waited {took:.1f} s for the operator's lock"
    assert f"Poke of campaign {campaign_id} gave up waiting for the database" in caplog.text
    done = poke(**context)
    assert done.is_done is True and done.xcom_value["outcome"] == "completed"
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0] == "completed"


def test_a_poke_that_fails_for_another_reason_still_fails(db, monkeypatch):
    campaign_id = create_campaign(db, "broken", status="active")
    poke = poke_callable(campaign_id)
    db.execute("DELETE FROM campaigns WHERE id = %s", (campaign_id,))
    context = {
        "dag_run": SimpleNamespace(
            run_id="manual__broken", run_type="manual", run_after=datetime.now(timezone.utc), clear_number=0
        ),
        "params": {"dry_run": False, "max_contacts": None, "dispatch": True, "notify": True},
    }
    with pytest.raises(Exception) as caught:
        poke(**context)
    assert "gave up" not in str(caught.value)
