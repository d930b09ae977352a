"""Adversarial review of the sending process: what it claims, tried against what can go wrong.

Each test is a way the sending process could go wrong, and shows it does not; the first few failed
on its first version.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from include.campaigns import dispatch as dispatch_module
from include.campaigns import send_process
from include.campaigns.dispatch import dispatch
from include.campaigns.sqs_batches import DispatchIncomplete
from tests.integration.conftest import drain
from tests.integration.test_dispatch_faults import assert_each_sent_under_one_id
from tests.integration.test_send_process import children, make_campaign, run_ctx

pytestmark = pytest.mark.integration


def queued(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def test_every_answer_the_sending_process_wrote_before_a_sigterm_reaches_the_dispatch(sqs, dial_queue, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the child inherits the task's environment
    process = send_process.SendProcess()
    try:
        process.start(send_process.connection_spec(dial_queue, None), lambda row: json.dumps(row))
        rows = [{"dial_attempt_id": f"adv-{n}"} for n in range(300)]
        process.send(rows)
        process._flush()
        deadline = time.monotonic() + 30
        while queued(sqs, dial_queue) < len(rows):
            assert time.monotonic() < deadline, "moto never received the batches"
            time.sleep(0.05)
        time.sleep(0.5)  # the last answer line is written right after its batch is accepted
        os.kill(process.pid, signal.SIGTERM)  # what the supervisor's killpg delivers to the group
    finally:
        accepted, failure = process.finish()
    # It finished the batch in hand, said what SQS accepted, and stopped at the end of its input.
    assert failure is None
    assert {dial_attempt_id for dial_attempt_id, _ in accepted} == {r["dial_attempt_id"] for r in rows}


def test_the_sending_process_imports_the_dispatch_s_own_code_whatever_the_working_directory(
    db, redis_client, sqs, dial_queue, tmp_path, monkeypatch
):
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "__init__.py").write_text("")
    campaign, phones = make_campaign(db, dial_queue, count=12)
    monkeypatch.chdir(tmp_path)
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == len(phones)


def test_a_dispatch_from_a_worker_thread_sends_everything_and_leaves_no_sending_process(
    db, redis_client, sqs, dial_queue
):
    """PR_SET_PDEATHSIG fires when the forking *thread* exits; dispatch waits for its child in that
    thread, so a dispatch run in a worker thread is not cut short."""
    campaign, phones = make_campaign(db, dial_queue)
    outcome: dict = {}

    def run() -> None:
        from include.campaigns.db import campaign_db

        try:
            with campaign_db() as conn:
                outcome["result"] = dispatch(conn, campaign, run_ctx(campaign.id))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].sent == len(phones)
    assert not children()
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_postgresql_failing_mid_claim_stops_the_sending_process_and_marks_exactly_what_sqs_accepted(
    db, redis_client, sqs, dial_queue, monkeypatch
):
    campaign, phones = make_campaign(db, dial_queue, count=40)
    monkeypatch.setattr(dispatch_module, "CLAIM_CHUNK", 10)
    original, calls = dispatch_module._claim_and_screen, []

    def fail_on_the_third(claimer, sender, limit):
        calls.append(limit)
        if len(calls) == 3:
            raise RuntimeError("server closed the connection unexpectedly")
        return original(claimer, sender, limit)

    monkeypatch.setattr(dispatch_module, "_claim_and_screen", fail_on_the_third)
    with pytest.raises(RuntimeError, match="server closed"):
        dispatch(db, campaign, run_ctx(campaign.id))
    monkeypatch.undo()

    assert not children()
    marked = {r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks WHERE status = 'sent'").fetchall()}
    on_queue = {json.loads(m["Body"])["dial_attempt_id"]: m for m in drain(sqs, dial_queue)}
    assert marked == set(on_queue) and len(marked) == 20  # the two chunks claimed before the failure
    for m in on_queue.values():
        sqs.send_message(QueueUrl=dial_queue, MessageBody=m["Body"])
    dispatch(db, campaign, run_ctx(campaign.id))
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_another_dispatcher_holding_the_lock_leaves_no_sending_process(db, redis_client, sqs, dial_queue):
    from include.campaigns.db import campaign_db, fetch_all

    campaign, _ = make_campaign(db, dial_queue, count=12)
    with campaign_db() as other:
        held = fetch_all(other, "dispatcher_lock", {"campaign_id": campaign.id, "shards": [0]})
        assert held[0]["locked"]
        result = dispatch(db, campaign, run_ctx(campaign.id))
    assert result.sent == 0 and not children()


def test_no_phone_number_reaches_either_process_s_output_when_sqs_refuses(
    db, redis_client, sqs, dial_queue, monkeypatch, capfd, caplog
):
    campaign, phones = make_campaign(db, dial_queue, count=12)
    caplog.set_level("DEBUG", logger="include")
    original = send_process.SendProcess.start

    def start_then_lose_the_queue(self, spec, encode):
        sqs.delete_queue(QueueUrl=dial_queue)
        original(self, spec, encode)

    monkeypatch.setattr(send_process.SendProcess, "start", start_then_lose_the_queue)
    with pytest.raises(DispatchIncomplete) as raised:
        dispatch(db, campaign, run_ctx(campaign.id))
    out, err = capfd.readouterr()
    seen = out + err + caplog.text + str(raised.value)
    assert not [p for p in phones if p in seen or p.lstrip("+") in seen]
    spec = send_process.connection_spec(dial_queue, None)
    assert spec["secret_key"] not in seen
    sqs.create_queue(QueueName=dial_queue.rsplit("/", 1)[1], Attributes={"VisibilityTimeout": "30"})


def test_an_exception_in_the_dispatch_process_is_raised_promptly_even_when_sqs_does_not_answer(
    db, redis_client, sqs, dial_queue, black_hole, monkeypatch
):
    campaign, _ = make_campaign(db, dial_queue, count=12)
    original_spec, original_send = dispatch_module.connection_spec, send_process.SendProcess.send

    def unanswered(queue, group):
        spec = original_spec(queue, group)
        spec["config"].update(read_timeout=3, connect_timeout=3, retries={"total_max_attempts": 2})
        return {**spec, "endpoint_url": black_hole}

    def send_then_time_out(self, rows):
        original_send(self, rows)
        self._flush()
        time.sleep(0.3)
        raise TimeoutError("execution_timeout")  # as AirflowTaskTimeout would, from the alarm

    monkeypatch.setattr(dispatch_module, "connection_spec", unanswered)
    monkeypatch.setattr(send_process.SendProcess, "send", send_then_time_out)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        dispatch(db, campaign, run_ctx(campaign.id))
    assert time.monotonic() - started < 3, "the dispatch outlived its own timeout, waiting for its sender"


def test_a_sending_process_that_reports_fewer_than_it_was_handed_fails_the_dispatch(
    db, redis_client, sqs, dial_queue, tmp_path, monkeypatch
):
    import sys

    campaign, _ = make_campaign(db, dial_queue, count=12)
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -c "import sys\nfor _ in sys.stdin: pass"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(send_process.sys, "executable", str(fake))
    with pytest.raises(DispatchIncomplete):
        dispatch(db, campaign, run_ctx(campaign.id))


def test_two_shards_dispatched_at_once_each_send_from_their_own_process_and_send_each_contact_once(
    db, redis_client, sqs, dial_queue, monkeypatch
):
    from include.campaigns.db import campaign_db

    monkeypatch.setattr(os, "cpu_count", lambda: 4)  # a core to spare beside each shard's dispatcher

    campaign, phones = make_campaign(db, dial_queue, count=60, hopper=2 * send_process.SEND_PROCESS_MIN_ROOM)
    results, errors, pids = {}, [], set()
    original_start = send_process.SendProcess.start

    def run(shard: int) -> None:
        try:
            with campaign_db() as conn:
                results[shard] = dispatch(conn, campaign, run_ctx(campaign.id), shard=shard, shard_count=2)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    def start(self, spec, encode):
        pids.add(self.pid)
        original_start(self, spec, encode)

    monkeypatch.setattr(send_process.SendProcess, "start", start)
    threads = [threading.Thread(target=run, args=(shard,)) for shard in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.undo()
    assert not errors, errors
    assert len(pids) == 2 and not children()
    assert sum(r.sent for r in results.values()) == len(phones)
    assert_each_sent_under_one_id(db, sqs, dial_queue, phones)


def test_a_campaign_whose_tasks_pass_validation_can_be_sent_however_large_its_ivr_flow(
    db, redis_client, sqs, dial_queue
):
    from include.campaigns.validation import MAX_MESSAGE_BYTES, dial_task_size_problems

    ivr_flow = {"greeting": "x" * (MAX_MESSAGE_BYTES // 2)}  # half the limit: 10 of them are five times over
    campaign, phones = make_campaign(db, dial_queue, count=12, ivr_flow=ivr_flow)
    assert dial_task_size_problems(campaign, campaign.config) == []
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == len(phones)


@pytest.mark.parametrize("status", ["paused", "cancelled"])
def test_a_campaign_that_may_not_send_leaves_no_sending_process_and_sends_nothing(
    db, redis_client, sqs, dial_queue, status
):
    from include.campaigns.campaign import load_campaign

    campaign, _ = make_campaign(db, dial_queue, count=12)
    db.execute("UPDATE campaigns SET status = %s WHERE id = %s", (status, campaign.id))
    result = dispatch(db, load_campaign(db, campaign.id), run_ctx(campaign.id))
    assert result.sent == 0 and not children() and drain(sqs, dial_queue) == []


def test_a_dry_run_of_a_large_campaign_starts_no_sending_process(db, redis_client, sqs, dial_queue, monkeypatch):
    import dataclasses

    campaign, phones = make_campaign(db, dial_queue, count=12)
    started = []
    monkeypatch.setattr(send_process.SendProcess, "__init__", lambda self: started.append(self) or None)
    result = dispatch(db, campaign, dataclasses.replace(run_ctx(campaign.id), dry_run=True))
    assert result.would_dispatch == len(phones) and started == [] and drain(sqs, dial_queue) == []
