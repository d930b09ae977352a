"""A stand-in for the real dialer: it consumes the dial queue and writes call records.

    python -m dev.dialer_simulator [--outcomes answered=0.45,busy=0.1,...] [--seed 7]

It honours the dial-task contract: a task past its ``not_after`` is dropped unanswered (the
orchestrator expires it), and ``dial_attempt_id`` is the idempotency key, so a message delivered
twice yields one call record. Answer rates depend on the contact's local hour, as real ones do.

It takes messages of contract versions 1 and 2. Only version 2 lets the dialer report
``abandoned`` and ``machine`` (give them a weight in ``--outcomes``); to a version 1 task it
reports only the outcomes version 1 knows. A message of another version is not dialed.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

log = logging.getLogger("dialer_simulator")

DEFAULT_OUTCOMES = {
    "answered": 0.40,
    "converted": 0.10,
    "voicemail": 0.10,
    "busy": 0.10,
    "no_answer": 0.20,
    "failed": 0.05,
    "opted_out": 0.05,
}
ANSWERING = ("answered", "converted", "opted_out")
# What each version of the dial-task contract lets the dialer report.
VERSION_OUTCOMES: dict[int, tuple[str, ...]] = {
    1: ("answered", "converted", "voicemail", "busy", "no_answer", "failed", "opted_out")
}
VERSION_OUTCOMES[2] = VERSION_OUTCOMES[1] + ("abandoned", "machine")

INSERT_RECORD = """
INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at,
                          duration_s, local_hour)
VALUES (%(dial_attempt_id)s, %(campaign_id)s, %(contact_id)s, %(phone)s, %(outcome)s, %(started_at)s,
        %(ended_at)s, %(duration_s)s, %(local_hour)s)
ON CONFLICT (dial_attempt_id) DO NOTHING
"""


def parse_outcomes(text: str | None) -> dict[str, float]:
    if not text:
        return dict(DEFAULT_OUTCOMES)
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        weights[name.strip()] = float(value)
    return weights


def local_hour(phone: str, at: datetime) -> int:
    import phonenumbers
    from phonenumbers import timezone as number_zones

    zones = number_zones.time_zones_for_number(phonenumbers.parse(phone, None))
    zone = next((z for z in zones if z != "Etc/Unknown"), "UTC")
    return at.astimezone(ZoneInfo(zone)).hour


def hour_factor(hour: int) -> float:
    """People answer more in the early evening than mid-morning."""
    return {
        8: 0.7,
        9: 0.8,
        10: 0.9,
        11: 0.9,
        12: 1.1,
        13: 1.0,
        14: 0.9,
        15: 0.9,
        16: 1.0,
        17: 1.2,
        18: 1.3,
        19: 1.2,
        20: 1.0,
    }.get(hour, 0.6)


class DialerSimulator:
    """Consumes dial tasks until stopped; ``received`` lists every message it took off the queue."""

    def __init__(
        self,
        queue_url: str | None = None,
        outcomes: dict[str, float] | None = None,
        seed: int | None = None,
        call_seconds: float = 0.0,
    ):
        self.outcomes = outcomes or dict(DEFAULT_OUTCOMES)
        self.random = random.Random(seed)
        self.call_seconds = call_seconds
        self.queue_url = queue_url
        self.received: list[dict] = []
        self.dropped_late: list[str] = []
        self.dropped_version: list[str | None] = []
        self._allowed = VERSION_OUTCOMES[max(VERSION_OUTCOMES)]  # what the task in hand's version allows
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    def _clients(self):
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from include.campaigns.resources import AWS_CONN_ID, dial_queue_url

        sqs = SqsHook(aws_conn_id=AWS_CONN_ID).get_conn()
        if self.queue_url is None:
            self.queue_url = dial_queue_url(sqs)
        conn = PostgresHook(postgres_conn_id="campaigns_db").get_conn()
        conn.autocommit = True
        return sqs, conn

    def pick_outcome(self, hour: int) -> str:
        factor = hour_factor(hour)
        weights = {o: w * (factor if o in ANSWERING else 1.0) for o, w in self.outcomes.items() if o in self._allowed}
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def handle(self, conn, task: dict, now: datetime) -> str | None:
        if task.get("version") not in VERSION_OUTCOMES:
            self.dropped_version.append(task.get("dial_attempt_id"))
            log.warning("Dial task of unknown contract version %r dropped", task.get("version"))
            return None
        if now > datetime.fromisoformat(task["not_after"]):
            self.dropped_late.append(task["dial_attempt_id"])
            return None
        hour = local_hour(task["phone"], now)
        self._allowed = VERSION_OUTCOMES[task["version"]]
        outcome = self.pick_outcome(hour)
        talk = int(self.random.uniform(20, 240)) if outcome in ANSWERING else 0
        conn.execute(
            INSERT_RECORD,
            {
                "dial_attempt_id": task["dial_attempt_id"],
                "campaign_id": task["campaign_id"],
                "contact_id": task["contact_id"],
                "phone": task["phone"],
                "outcome": outcome,
                "started_at": now,
                "ended_at": now + timedelta(seconds=talk),
                "duration_s": talk,
                "local_hour": hour,
            },
        )
        return outcome

    def run(self) -> None:
        sqs, conn = self._clients()
        tally: Counter[str] = Counter()
        try:
            while not self.stop_event.is_set():
                reply = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
                messages = reply.get("Messages", [])
                now = datetime.now(timezone.utc)
                for message in messages:
                    task = json.loads(message["Body"])
                    self.received.append({"message_id": message["MessageId"], **task})
                    tally[self.handle(conn, task, now) or "dropped_late"] += 1
                if messages:
                    sqs.delete_message_batch(
                        QueueUrl=self.queue_url,
                        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                    )
                    if self.call_seconds:
                        self.stop_event.wait(self.call_seconds)
        finally:
            conn.close()
            log.info("Dialer simulator stopped after %d dial tasks: %s", len(self.received), dict(tally))

    def start(self) -> DialerSimulator:
        self._thread = threading.Thread(target=self.run, name="dialer-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self._thread:
            self._thread.join(timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outcomes", help="comma-separated outcome=weight pairs")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--queue-url", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    simulator = DialerSimulator(args.queue_url, parse_outcomes(args.outcomes), args.seed)
    try:
        simulator.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
