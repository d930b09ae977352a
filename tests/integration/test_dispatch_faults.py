"""Fault injection against the real services. After each fault, every eligible contact has been
sent under exactly one dial_attempt_id, and nothing else was sent. (A dial task sent but not yet
marked sent when the fault hit is sent again under the same id: that is the idempotency key the
dialer and FIFO queues deduplicate on.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dev import stack
from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def run_ctx(campaign_id):
    now = datetime.now(timezone.utc)
    return RunContext(
        campaign_id=campaign_id, run_id="faulty", run_start=now, run_end=now + timedelta(days=1), live=True
    )


@pytest.fixture
def campaign(db, dial_queue):
    zone = open_zone()
    phones = us_numbers(35, seed=40)
    campaign_id = create_campaign(
        db,
        "faults",
        max_in_flight=100,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
    return load_campaign(db, campaign_id), phones


def assert_each_sent_under_one_id(db, sqs, dial_queue, phones):
    ids_by_phone = defaultdict(set)
    for message in drain(sqs, dial_queue):
        task = json.loads(message["Body"])
        ids_by_phone[task["phone"]].add(task["dial_attempt_id"])
    assert set(ids_by_phone) == set(phones)
    assert all(len(ids) == 1 for ids in ids_by_phone.values()), {p: i for p, i in ids_by_phone.items() if len(i) > 1}
    ledger = db.execute("SELECT status, count(*) FROM dial_tasks GROUP BY status").fetchall()
    assert ledger == [("sent", len(phones))]


def test_process_killed_between_claim_and_send(db, redis_client, campaign, sqs, dial_queue, tmp_path):
    campaign_row, phones = campaign
    ready = tmp_path / "claimed"
    # A real dispatcher process, frozen at its first send (after the claim committed), then SIGKILLed.
    script = textwrap.dedent(f"""
        import time
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from include.campaigns.campaign import load_campaign
        from include.campaigns.db import campaign_db
        from include.campaigns.dispatch import dispatch
        from include.campaigns.runs import RunContext

        class FreezeAtSend:
            def send_message_batch(self, **kwargs):
                Path({str(ready)!r}).write_text("claimed")
                time.sleep(600)

        now = datetime.now(timezone.utc)
        run = RunContext(campaign_id={campaign_row.id}, run_id="faulty", run_start=now,
                         run_end=now + timedelta(days=1), live=True)
        with campaign_db() as conn:
            dispatch(conn, load_campaign(conn, {campaign_row.id}), run, client=FreezeAtSend(),
                     queue_url={dial_queue!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the dispatcher never reached its first send"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    claimed = {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks WHERE status = 'claimed'").fetchall()}
    assert claimed and sqs.receive_message(QueueUrl=dial_queue).get("Messages") is None

    result = dispatch(db, load_campaign(db, campaign_row.id), run_ctx(campaign_row.id))

    assert result.resent == len(claimed)
    sent_ids = {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks").fetchall()}
    assert claimed <= sent_ids, "the resend must reuse the ids claimed before the crash"
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_sqs_down_for_a_while(db, redis_client, campaign, sqs, dial_queue):
    import boto3
    import botocore.exceptions

    campaign_row, phones = campaign
    unreachable = boto3.client(
        "sqs",
        endpoint_url="http://127.0.0.1:1",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    for _ in range(2):  # two task tries while SQS is down
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            dispatch(db, campaign_row, run_ctx(campaign_row.id), client=unreachable, queue_url=dial_queue)
    assert db.execute("SELECT count(*) FROM dial_tasks WHERE status = 'sent'").fetchone()[0] == 0

    dispatch(db, campaign_row, run_ctx(campaign_row.id), client=sqs, queue_url=dial_queue)
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_redis_down(db, redis_client, campaign, sqs, dial_queue, caplog):
    campaign_row, phones = campaign
    pid = int((stack.stack_dir() / "redis.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    while stack._pid_alive(pid):
        time.sleep(0.05)
    try:
        result = dispatch(db, campaign_row, run_ctx(campaign_row.id))
    finally:
        stack.start()
    assert result.redis_available is False
    assert "checking the PostgreSQL blacklist only" in caplog.text
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


class RestartPostgresMidway:
    """The real SQS client; after the second batch, PostgreSQL is restarted under the dispatcher."""

    def __init__(self, client):
        self.client, self.batches = client, 0

    def send_message_batch(self, **kwargs):
        response = self.client.send_message_batch(**kwargs)
        self.batches += 1
        if self.batches == 2:
            stack._stop_postgres()
            stack.start()
        return response


def test_postgres_restarts_mid_dispatch(redis_client, campaign, sqs, dial_queue):
    import psycopg

    from include.campaigns.db import campaign_db

    campaign_row, phones = campaign
    with campaign_db() as conn:
        with pytest.raises(psycopg.OperationalError):
            dispatch(
                conn, campaign_row, run_ctx(campaign_row.id), client=RestartPostgresMidway(sqs), queue_url=dial_queue
            )
    with campaign_db() as conn:  # the task's retry: a new connection, the same ledger
        dispatch(conn, campaign_row, run_ctx(campaign_row.id), client=sqs, queue_url=dial_queue)
        assert_each_sent_under_one_id(conn, sqs, dial_queue, phones)


def test_postgres_down_sends_nothing_and_the_task_fails_to_be_retried(redis_client, campaign, sqs, dial_queue):
    import psycopg

    from include.campaigns.db import campaign_db

    campaign_row, phones = campaign
    stack._stop_postgres()
    try:
        with pytest.raises(psycopg.OperationalError):
            with campaign_db() as conn:
                dispatch(conn, campaign_row, run_ctx(campaign_row.id), client=sqs, queue_url=dial_queue)
        assert sqs.receive_message(QueueUrl=dial_queue).get("Messages") is None
    finally:
        stack.start()
    with campaign_db() as conn:  # the retry, once PostgreSQL is back
        dispatch(conn, campaign_row, run_ctx(campaign_row.id), client=sqs, queue_url=dial_queue)
        assert_each_sent_under_one_id(conn, sqs, dial_queue, phones)
