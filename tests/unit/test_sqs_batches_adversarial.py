"""The shared send loop against odd SendMessageBatch answers."""

from __future__ import annotations

import pytest

from include.campaigns import sqs_batches
from include.campaigns.sqs_batches import SEND_ATTEMPTS, DispatchIncomplete, send_batch


class ScriptedSqs:
    """Answers each send_message_batch with the next scripted answer, recording what was sent."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def send_message_batch(self, QueueUrl, Entries):
        self.calls.append([e["Id"] for e in Entries])
        answer = self.answers.pop(0)
        return answer(Entries) if callable(answer) else answer


def entries(n):
    return [{"Id": str(i), "MessageBody": f"body-{i}"} for i in range(n)]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(sqs_batches.time, "sleep", lambda s: None)


def test_an_entry_reported_accepted_twice_or_under_an_id_never_sent_is_noted_once_and_only_if_sent():
    sqs = ScriptedSqs(
        {
            "Successful": [
                {"Id": "0", "MessageId": "m0"},
                {"Id": "0", "MessageId": "m0-again"},
                {"Id": "99", "MessageId": "ghost"},
                {"Id": "1", "MessageId": "m1"},
            ]
        }
    )
    noted = []
    send_batch(sqs, "q", entries(2), lambda i, m: noted.append((i, m)))
    assert noted == [("0", "m0"), ("1", "m1")]


def test_only_the_entries_sqs_reports_failed_are_sent_again_and_each_acceptance_is_noted_once():
    sqs = ScriptedSqs(
        {
            "Successful": [{"Id": "0", "MessageId": "m0"}, {"Id": "2", "MessageId": "m2"}],
            "Failed": [{"Id": "1", "Code": "InternalError", "SenderFault": False}],
        },
        {"Successful": [{"Id": "1", "MessageId": "m1"}]},
    )
    noted = []
    send_batch(sqs, "q", entries(3), lambda i, m: noted.append((i, m)))
    assert sqs.calls == [["0", "1", "2"], ["1"]]
    assert sorted(noted) == [("0", "m0"), ("1", "m1"), ("2", "m2")]


def test_an_entry_sqs_leaves_out_of_its_answer_is_neither_noted_nor_dropped():
    sqs = ScriptedSqs(
        {"Successful": [{"Id": "0", "MessageId": "m0"}]}, {"Successful": [{"Id": "1", "MessageId": "m1"}]}
    )
    noted = []
    send_batch(sqs, "q", entries(2), lambda i, m: noted.append((i, m)))
    assert sqs.calls == [["0", "1"], ["1"]] and noted == [("0", "m0"), ("1", "m1")]


def test_a_sender_fault_entry_is_tried_send_attempts_times_then_the_batch_fails_with_what_was_accepted_noted():
    """SenderFault entries (a body SQS will never take) are retried like transient ones: SEND_ATTEMPTS
    calls, then DispatchIncomplete; the entries accepted meanwhile were noted."""
    failed = {"Failed": [{"Id": "1", "Code": "InvalidMessageContents", "SenderFault": True}]}
    sqs = ScriptedSqs({"Successful": [{"Id": "0", "MessageId": "m0"}], **failed}, *[failed] * (SEND_ATTEMPTS - 1))
    noted = []
    with pytest.raises(DispatchIncomplete, match="1 dial task"):
        send_batch(sqs, "q", entries(2), lambda i, m: noted.append((i, m)))
    assert noted == [("0", "m0")] and len(sqs.calls) == SEND_ATTEMPTS
