"""A large dispatch under Airflow's real scheduler and task supervisor: the sending process is
started from the supervised task process (its own process group, stdin/stdout the supervisor's)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.send_process import SEND_PROCESS_MIN_ROOM
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain
from tests.scheduler.conftest import wait_for

pytestmark = pytest.mark.integration


def test_a_scheduled_run_of_a_large_campaign_sends_every_contact_from_a_sending_process(
    db, redis_client, dial_queue, sqs, real_airflow
):
    now = datetime.now(timezone.utc)
    tick = (now + timedelta(seconds=35)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    slug = f"sendproc_{int(now.timestamp())}"
    phones = us_numbers(25, seed=91)
    campaign_id = create_campaign(
        db,
        slug,
        schedule="* * * * *",
        tz="UTC",
        start_at=tick,
        end_at=tick + timedelta(seconds=50),
        poke_interval_s=15,
        max_in_flight=SEND_PROCESS_MIN_ROOM,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in phones])
    airflow = real_airflow()
    dag_id = f"campaign_{slug}"

    def dispatch_done():
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            tis = session.query(TaskInstance).filter_by(dag_id=dag_id, task_id="dispatch_contacts").all()
            return [ti.state for ti in tis if ti.state in ("success", "failed", "up_for_retry")]

    budget = (tick - datetime.now(timezone.utc)).total_seconds() + 120
    states = wait_for(dispatch_done, budget, airflow, f"dispatch_contacts of {dag_id}", every=3)
    assert states == ["success"], states
    ledger = db.execute("SELECT status, count(*) FROM dial_tasks GROUP BY status").fetchall()
    assert ledger == [("sent", len(phones))]
    assert len(drain(sqs, dial_queue)) == len(phones)
    logs = " ".join(p.read_text(errors="replace") for p in _task_logs(airflow, dag_id))
    assert "from a sending process" in logs, "the dispatch sent from its own process"
    assert not [p for p in phones if p in logs]


def _task_logs(airflow, dag_id: str):
    from pathlib import Path

    from airflow.configuration import conf

    folder = Path(airflow.env.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or conf.get("logging", "base_log_folder"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [p for p in folder.rglob("*") if p.is_file() and dag_id in str(p) and "dispatch_contacts" in str(p)]
        if found:
            return found
        time.sleep(1)
    return []
