"""A large dispatch sends from a sending process beside it. Whatever dies, and whatever SQS answers,
the ledger says sent exactly what SQS accepted, and the next try sends the rest under the ids
already claimed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns import send_process
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.runs import RunContext
from include.campaigns.sender import DialTaskEncoder
from include.campaigns.sqs_batches import DispatchIncomplete
from tests.helpers import closed_zone, open_zone, us_numbers
from tests.integration.conftest import drain
from tests.integration.test_dispatch_faults import assert_each_sent_under_one_id

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HOPPER = send_process.SEND_PROCESS_MIN_ROOM  # a hopper this deep sends from a sending process
# Every control character is escaped by json.dumps, so none of these can break the pipe's framing.
AWKWARD_IVR = {"greeting": 'Olá \x1e\x1f\n\r\t "quoted" \\ 電話 \u2028', "steps": [{"say": "\x01\x7f"}]}


def run_ctx(campaign_id, run_id="bulk"):
    now = datetime.now(timezone.utc)
    return RunContext(campaign_id=campaign_id, run_id=run_id, run_start=now, run_end=now + timedelta(days=1), live=True)


def make_campaign(db, queue, *, zone=None, count=35, ivr_flow=None, hopper=HOPPER):
    phones = us_numbers(count, seed=71)
    campaign_id = create_campaign(
        db,
        "bulk",
        max_in_flight=hopper,
        config={
            "dial_queue": queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
            **({"ivr_flow": ivr_flow} if ivr_flow else {}),
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone or open_zone()} for p in phones])
    return load_campaign(db, campaign_id), phones


def children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if "include.campaigns.send_process" in " ".join(p.cmdline())]


def test_a_large_dispatch_sends_from_a_sending_process_exactly_what_the_ledger_says(
    db, redis_client, sqs, dial_queue, caplog
):
    campaign, phones = make_campaign(db, dial_queue, ivr_flow=AWKWARD_IVR)
    caplog.set_level("INFO", logger="include.campaigns.dispatch")

    result = dispatch(db, campaign, run_ctx(campaign.id))

    assert "from a sending process" in caplog.text
    assert result.sent == len(phones)
    messages = drain(sqs, dial_queue)
    ledger = {
        r[0]: r[1:]
        for r in db.execute(
            "SELECT dial_attempt_id, message_id, contact_id, phone, attempt, not_after FROM dial_tasks"
            " WHERE status = 'sent'"
        ).fetchall()
    }
    # Each message is the one the ledger marked sent, under the message id SQS gave it...
    assert {m["MessageId"]: json.loads(m["Body"])["dial_attempt_id"] for m in messages} == {
        message_id: dial_attempt_id for dial_attempt_id, (message_id, *_) in ledger.items()
    }
    # ...and its body is byte for byte what the sender in this process encodes, whatever the IVR flow holds.
    encode = DialTaskEncoder(campaign, campaign.config, "bulk")
    for m in messages:
        task_id = json.loads(m["Body"])["dial_attempt_id"]
        _, contact_id, phone, attempt, not_after = ledger[task_id]
        row = {"dial_attempt_id": task_id, "contact_id": contact_id, "phone": phone, "attempt": attempt}
        assert m["Body"] == encode({**row, "not_after": not_after})
    assert json.loads(messages[0]["Body"])["ivr_flow"] == AWKWARD_IVR
    assert not children(), "the sending process has exited"


def test_a_fifo_queue_gets_the_campaign_s_group_and_the_dial_attempt_id_as_deduplication_id(db, redis_client, sqs):
    url = sqs.create_queue(
        QueueName=f"dial-{os.getpid()}-{time.monotonic_ns()}.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"},
    )["QueueUrl"]
    try:
        campaign, phones = make_campaign(db, url, count=12)
        assert dispatch(db, campaign, run_ctx(campaign.id)).sent == len(phones)
        got = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages"):
            got += batch
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            )
        assert len(got) == len(phones)
        for m in got:
            assert m["Attributes"]["MessageGroupId"] == f"campaign-{campaign.id}"
            assert m["Attributes"]["MessageDeduplicationId"] == json.loads(m["Body"])["dial_attempt_id"]
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_the_sending_process_killed_mid_dispatch_fails_the_dispatch_and_the_retry_sends_the_rest(
    db, redis_client, sqs, dial_queue, monkeypatch
):
    campaign, phones = make_campaign(db, dial_queue)
    original = send_process.SendProcess.send

    def send_then_die(self, rows):
        original(self, rows[:10])
        if self._proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self._proc.wait()
        original(self, rows[10:])  # into a closed pipe: nothing more goes out

    monkeypatch.setattr(send_process.SendProcess, "send", send_then_die)
    with pytest.raises(DispatchIncomplete, match="sending process"):
        dispatch(db, campaign, run_ctx(campaign.id))
    monkeypatch.undo()

    statuses = dict(db.execute("SELECT status, count(*) FROM dial_tasks GROUP BY status").fetchall())
    assert statuses.get("claimed"), "what the dead process never reported stays claimed"
    assert set(statuses) <= {"sent", "claimed"} and sum(statuses.values()) == len(phones)
    # What is marked sent is on the queue; nothing beyond the claimed tasks went out.
    queued = {json.loads(m["Body"])["dial_attempt_id"]: m for m in drain(sqs, dial_queue)}
    marked = {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks WHERE status = 'sent'").fetchall()}
    claimed = {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks").fetchall()}
    assert marked <= set(queued) <= claimed
    for m in queued.values():  # back on the queue for the final count: what the dialer would have read
        sqs.send_message(QueueUrl=dial_queue, MessageBody=m["Body"])

    result = dispatch(db, campaign, run_ctx(campaign.id))  # the task's retry

    assert result.resent == statuses["claimed"]
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_the_dispatch_process_killed_takes_its_sending_process_with_it(
    db, redis_client, sqs, dial_queue, tmp_path, black_hole
):
    campaign, phones = make_campaign(db, dial_queue)
    pid_file = tmp_path / "sender.pid"
    # A real dispatcher process, frozen once it has handed its rows over, then SIGKILLed. Its
    # sending process is stuck in a read from an endpoint that never answers, so only the kernel's
    # parent-death signal can end it before its read timeout.
    script = textwrap.dedent(f"""
        import time
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from include.campaigns import dispatch as dispatch_module, send_process
        from include.campaigns.campaign import load_campaign
        from include.campaigns.db import campaign_db
        from include.campaigns.runs import RunContext

        original_send, original_spec = send_process.SendProcess.send, send_process.connection_spec

        def stuck_spec(queue, group):
            spec = original_spec(queue, group)
            spec["config"].update(read_timeout=600, retries={{"max_attempts": 1}})
            return {{**spec, "endpoint_url": {black_hole!r}}}

        def send_and_freeze(self, rows):
            original_send(self, rows)
            self._flush()
            Path({str(pid_file)!r}).write_text(str(self.pid))
            time.sleep(600)

        dispatch_module.connection_spec = stuck_spec
        send_process.SendProcess.send = send_and_freeze
        now = datetime.now(timezone.utc)
        run = RunContext(campaign_id={campaign.id}, run_id="bulk", run_start=now,
                         run_end=now + timedelta(days=1), live=True)
        with campaign_db() as conn:
            dispatch_module.dispatch(conn, load_campaign(conn, {campaign.id}), run)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, "the dispatcher never handed its rows over"
        time.sleep(0.1)
    sender = psutil.Process(int(pid_file.read_text()))
    time.sleep(0.5)  # into its read from the black hole
    assert sender.is_running() and sender.status() != psutil.STATUS_ZOMBIE
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    gone_by = time.monotonic() + 10
    while sender.is_running() and sender.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < gone_by, "the sending process outlived its dispatcher"
        time.sleep(0.05)

    # Nothing was sent; the dispatcher's session is gone, so the retry resends under the same ids.
    claimed = {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks").fetchall()}
    assert len(claimed) == len(phones)
    assert dispatch(db, campaign, run_ctx(campaign.id)).resent == len(phones)
    assert {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks").fetchall()} == claimed
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_sqs_refusing_the_sending_process_fails_the_dispatch_with_sqs_s_reason(
    db, redis_client, sqs, dial_queue, monkeypatch
):
    campaign, phones = make_campaign(db, dial_queue)
    original = send_process.SendProcess.start

    def start_then_lose_the_queue(self, spec, encode):
        sqs.delete_queue(QueueUrl=dial_queue)  # after dispatch found it, before the first batch
        original(self, spec, encode)

    monkeypatch.setattr(send_process.SendProcess, "start", start_then_lose_the_queue)
    with pytest.raises(DispatchIncomplete, match=r"QueueDoesNotExist|NonExistentQueue"):
        dispatch(db, campaign, run_ctx(campaign.id))
    monkeypatch.undo()
    assert db.execute("SELECT status, count(*) FROM dial_tasks GROUP BY status").fetchall() == [
        ("claimed", len(phones))
    ]
    assert not children()

    name = dial_queue.rsplit("/", 1)[1]
    sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})
    assert dispatch(db, campaign, run_ctx(campaign.id)).resent == len(phones)
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_a_sending_process_started_for_nothing_is_stopped(db, redis_client, sqs, dial_queue, caplog):
    campaign, _ = make_campaign(db, dial_queue, zone=closed_zone())  # no calling window open: nothing to claim
    caplog.set_level("INFO", logger="include.campaigns.dispatch")
    result = dispatch(db, campaign, run_ctx(campaign.id))
    assert result.sent == 0 and "from a sending process" not in caplog.text
    assert not children()


def test_a_small_hopper_sends_from_the_dispatch_process(db, redis_client, sqs, dial_queue, caplog):
    campaign, phones = make_campaign(db, dial_queue, hopper=HOPPER - 1)
    caplog.set_level("INFO", logger="include.campaigns.dispatch")
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == len(phones)
    assert "from a sending process" not in caplog.text
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


@pytest.mark.parametrize("how", ["a sensor's budgeted top-up", "a client handed in"])
def test_a_top_up_and_a_caller_s_own_client_send_from_the_dispatch_process(
    db, redis_client, sqs, dial_queue, caplog, how
):
    campaign, phones = make_campaign(db, dial_queue)
    caplog.set_level("INFO", logger="include.campaigns.dispatch")
    kwargs = {"time_budget_s": 30.0} if how.startswith("a sensor") else {"client": sqs, "queue_url": dial_queue}
    assert dispatch(db, campaign, run_ctx(campaign.id), **kwargs).sent == len(phones)
    assert "from a sending process" not in caplog.text and not children()
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_the_sending_process_sends_as_the_connection_s_own_client_would(sqs, dial_queue):
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    from include.campaigns.resources import AWS_CONN_ID

    name = dial_queue.rsplit("/", 1)[1]
    spec = send_process.connection_spec(name, None)
    built = send_process.spec_client(spec)  # what the sending process sends with
    assert (built.meta.region_name, built.meta.endpoint_url) == (sqs.meta.region_name, sqs.meta.endpoint_url)
    for option in ("connect_timeout", "read_timeout", "retries", "max_pool_connections", "proxies"):
        assert getattr(built.meta.config, option) == getattr(sqs.meta.config, option), option
    hook = SqsHook(aws_conn_id=AWS_CONN_ID)
    assert spec["verify"] == hook.verify
    frozen = hook.get_session(hook.region_name).get_credentials().get_frozen_credentials()
    assert (spec["access_key"], spec["secret_key"], spec["token"]) == (
        frozen.access_key,
        frozen.secret_key,
        frozen.token,
    )
    assert built.get_queue_url(QueueName=name)["QueueUrl"] == dial_queue


@pytest.mark.parametrize(
    ("cores", "shards", "hopper", "expected"),
    [
        (2, 1, HOPPER, True),
        (2, 1, HOPPER - 1, False),
        (2, 2, 2 * HOPPER, False),  # two dispatchers already take both cores
        (8, 2, 2 * HOPPER, True),
        (8, 2, 2 * HOPPER - 1, False),  # each shard's share of the hopper is what it can claim
        (1, 1, HOPPER, False),
    ],
)
def test_a_sending_process_is_started_only_where_it_has_a_core_and_enough_to_send(
    monkeypatch, cores, shards, hopper, expected
):
    import dataclasses

    from include.campaigns.campaign import Campaign
    from include.campaigns.dispatch import _may_send_from_process

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    campaign = dataclasses.replace(Campaign.missing(7), max_in_flight=hopper, status="active")
    assert _may_send_from_process(campaign, run_ctx(7), None, None, shards) is expected
    assert _may_send_from_process(campaign, run_ctx(7), object(), None, shards) is False
    assert _may_send_from_process(campaign, run_ctx(7), None, 30.0, shards) is False
    limited = dataclasses.replace(run_ctx(7), max_contacts=HOPPER - 1)  # the run's limit bounds the room too
    assert _may_send_from_process(campaign, limited, None, None, shards) is False
    paused = dataclasses.replace(campaign, status="paused")  # sends nothing at all
    assert _may_send_from_process(paused, run_ctx(7), None, None, shards) is False


def test_a_dispatch_that_cannot_start_a_sending_process_sends_itself(
    db, redis_client, sqs, dial_queue, caplog, monkeypatch
):
    import errno

    def no_process(*args, **kwargs):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(send_process.subprocess, "Popen", no_process)
    campaign, phones = make_campaign(db, dial_queue)
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == len(phones)
    assert "Could not start a sending process" in caplog.text
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)
