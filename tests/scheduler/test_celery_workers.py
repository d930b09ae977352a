"""One campaign run on the CeleryExecutor with two workers, and a worker lost mid-dispatch.

The story, on one start of the stack (the components take most of this test's time):

1. A one-off campaign with ``dispatch_shards: 2`` starts; its two shards run at once, one on each
   worker (each worker has one task slot, so Celery cannot give both to one worker).
2. The moment a shard's first dial tasks are on the queue, and none of its rows is marked sent
   yet, its worker is SIGKILLed with every process it started: no clean-up runs. The scheduler
   finds the task instance without a heartbeat and retries it; the other worker is the only one
   left to run the retry, which resends the claimed-but-unsent dial tasks under their ids.
3. The wait_for_completion sensor pokes on the surviving worker; the killed worker is restarted,
   the survivor is stopped between pokes (a warm shutdown), so the next poke lands on the
   restarted worker; the survivor comes back. The dialer starts only now, and the run completes.

The dialer answers every call, so every eligible contact ends completed after one attempt.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import dialer, drain  # noqa: F401 (dialer: a fixture)
from tests.scheduler.conftest import MAINTENANCE, wait_for

pytestmark = pytest.mark.integration

# More contacts per shard than a dispatcher sends before its first mark, so a shard has a stretch
# in which its dial tasks are on the queue and its rows are still only claimed.
PER_SHARD = 700
SHARDS = 2
# Timing only: how long the scheduler waits for a heartbeat before it retries a task instance
# (production default 300 s). Task processes heartbeat every few seconds.
HEARTBEAT_TIMEOUT_S = 30
CELERY_TEST_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
    # One task slot per worker: two shards queued together go to two workers.
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
}


def _set_paused(dag_ids, paused: bool) -> None:
    from sqlalchemy import update

    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id.in_(dag_ids)).values(is_paused=paused))


def _tis(dag_id: str, task_id: str) -> list:
    from sqlalchemy import select

    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.map_index, TaskInstance.try_number, TaskInstance.state, TaskInstance.hostname).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id
            )
        ).all()
    return [tuple(r) for r in rows]


def _earlier_tries(dag_id: str, task_id: str) -> list:
    from sqlalchemy import select

    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(
                TaskInstanceHistory.map_index,
                TaskInstanceHistory.try_number,
                TaskInstanceHistory.state,
                TaskInstanceHistory.hostname,
            ).where(TaskInstanceHistory.dag_id == dag_id, TaskInstanceHistory.task_id == task_id)
        ).all()
    return [tuple(r) for r in rows]


def _ledger(db, campaign_id: int) -> dict:
    rows = db.execute(
        "SELECT dial_attempt_id, contact_id, status FROM dial_tasks WHERE campaign_id = %s", (campaign_id,)
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_two_celery_workers_share_a_run_and_a_worker_killed_mid_dispatch_loses_no_contact(
    db,
    redis_client,
    dial_queue,
    topic_inbox,
    sqs,
    dialer,  # noqa: F811 - the imported fixture
    real_airflow,
):
    from dev import celery_local

    began = time.monotonic()
    now = datetime.now(timezone.utc)
    slug = f"celery_{int(now.timestamp())}"
    dag_id = f"campaign_{slug}"
    phones = us_numbers(PER_SHARD * SHARDS, seed=130)
    campaign_id = create_campaign(
        db,
        slug,
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(hours=2),
        poke_interval_s=15,
        max_in_flight=PER_SHARD * SHARDS * 2,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "max_attempts": 1,
            "calling_window": {"start": "08:00", "end": "21:00"},
            "dispatch_shards": SHARDS,
        },
    )
    zone = open_zone()
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])

    _set_paused(MAINTENANCE, True)  # their runs would take a worker's only slot
    try:
        airflow = real_airflow("celery", CELERY_TEST_ENV)
        children, env = airflow.children, airflow.env
        assert celery_local.wait_until_answering(celery_local.WORKERS, env, alive=lambda: not children.dead())

        # 1-2. Both shards running on two workers; kill the first to put dial tasks on the queue.
        killed = None
        seen_on_queue: set[str] = set()
        deadline = time.monotonic() + 240
        while killed is None:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no shard was seen between its first send and its first mark: {_tis(dag_id, 'dispatch_contacts')}"
                )
            airflow.check_alive()
            reply = sqs.receive_message(
                QueueUrl=dial_queue, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
            )
            bodies = [json.loads(m["Body"]) for m in reply.get("Messages", [])]
            if not bodies:
                time.sleep(0.05)
                continue
            shard = bodies[0]["contact_id"] % SHARDS
            ledger = _ledger(db, campaign_id)
            marked = [i for i, (contact, status) in ledger.items() if contact % SHARDS == shard and status != "claimed"]
            running = {m: host for m, _, state, host in _tis(dag_id, "dispatch_contacts") if state == "running"}
            if marked:
                pytest.fail(
                    f"the kill came too late: shard {shard} had {len(marked)} rows marked sent; "
                    f"running shards {running}"
                )
            if sorted(running.values()) != sorted(celery_local.WORKERS):
                # The other shard's task instance may not say `running` yet although its worker has
                # it: look again while this shard is still between its first send and its first mark.
                time.sleep(0.05)
                continue
            celery_local.kill_worker(children, running[shard])
            killed, survivor = running[shard], running[1 - shard]
            seen_on_queue = {b["dial_attempt_id"] for b in bodies if b["contact_id"] % SHARDS == shard}
        after_kill = _ledger(db, campaign_id)
        unmarked = {
            i for i, (contact, status) in after_kill.items() if contact % SHARDS == shard and status == "claimed"
        }
        assert seen_on_queue and seen_on_queue <= unmarked, "the dispatcher died with dial tasks sent but unmarked"

        # The scheduler retries the lost shard; the survivor runs it.
        def retried():
            done = {(m, t): (s, h) for m, t, s, h in _tis(dag_id, "dispatch_contacts")}
            return done.get((shard, 2)) == ("success", survivor) and done.get((1 - shard, 1)) == ("success", survivor)

        wait_for(retried, HEARTBEAT_TIMEOUT_S + 150, airflow, "the lost shard retried on the other worker", every=2)

        # 3. Pokes on the survivor; then the killed worker is back and the survivor stops between pokes.
        def poked_on(host):
            return lambda: any(
                s in ("up_for_reschedule", "running", "success") and h == host
                for _, _, s, h in _tis(dag_id, "wait_for_completion")
            )

        wait_for(poked_on(survivor), 120, airflow, f"a poke on {survivor}", every=1)
        airflow_bin = airflow.airflow
        celery_local.start_worker(children, airflow_bin, killed)
        assert celery_local.wait_until_answering([killed], env, alive=lambda: not children.dead())
        celery_local.stop_worker(children, survivor)
        wait_for(poked_on(killed), 120, airflow, f"a poke on the restarted {killed}", every=1)
        celery_local.start_worker(children, airflow_bin, survivor)

        dialer(dial_queue, {"answered": 1.0})

        def finished():
            from airflow.models import DagRun

            runs = DagRun.find(dag_id=dag_id)
            return runs if runs and all(r.state in ("success", "failed") for r in runs) else None

        runs = wait_for(finished, 240, airflow, f"the run of {dag_id} to finish", every=3)
    finally:
        _set_paused(MAINTENANCE, False)

    # The run succeeded, and every task of it ran on one of the two workers.
    assert [r.state for r in runs] == ["success"], [(r.run_id, r.state) for r in runs]
    run = runs[0]
    first_tries = {m: h for m, t, _, h in _earlier_tries(dag_id, "dispatch_contacts") if t == 1}
    first_tries.update({m: h for m, t, _, h in _tis(dag_id, "dispatch_contacts") if t == 1})
    assert first_tries == {shard: killed, 1 - shard: survivor}, "the two shards started on two workers"
    assert {h for _, _, _, h in _tis(dag_id, "wait_for_completion")} <= set(celery_local.WORKERS)

    # Every eligible contact sent exactly once, under one dial_attempt_id, the killed shard's under
    # the ids it had claimed before it died.
    ledger = _ledger(db, campaign_id)
    contacts_of: dict[int, list] = {}
    for attempt_id, (contact, status) in ledger.items():
        contacts_of.setdefault(contact, []).append(attempt_id)
        assert status != "claimed", (attempt_id, status)
    assert len(contacts_of) == len(phones) and all(len(ids) == 1 for ids in contacts_of.values())
    assert unmarked <= set(ledger), "the resend kept the ids the lost dispatcher had claimed"
    calls = db.execute(
        "SELECT dial_attempt_id, count(*) FROM call_records WHERE campaign_id = %s GROUP BY 1", (campaign_id,)
    ).fetchall()
    assert {i for i, _ in calls} == set(ledger) and all(n == 1 for _, n in calls)
    states = db.execute(
        "SELECT status, attempts, count(*) FROM contacts WHERE campaign_id = %s GROUP BY 1, 2", (campaign_id,)
    ).fetchall()
    assert states == [("completed", 1, len(phones))]

    report = db.execute(
        "SELECT report FROM campaign_reports WHERE campaign_id = %s AND run_id = %s", (campaign_id, run.run_id)
    ).fetchone()[0]
    assert report["outcome"] == "completed"
    assert report["funnel"]["dispatched"] == report["funnel"]["dialed"] == len(phones)
    messages = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    mine = [m for m in messages if m["MessageAttributes"]["campaign_id"]["Value"] == str(campaign_id)]
    assert [m["MessageAttributes"]["outcome"]["Value"] for m in mine] == ["completed"]
    print(
        f"\ncelery test: {time.monotonic() - began:.0f} s wall; shard {shard} killed on {killed}, "
        f"{len(unmarked)} dial tasks claimed but unmarked at the kill ({len(seen_on_queue)} seen on the queue)"
    )
