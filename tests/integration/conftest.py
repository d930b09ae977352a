"""Fixtures over the real embedded services: a clean campaign database, queues, a dialer."""

from __future__ import annotations

import uuid

import pytest

CAMPAIGN_TABLES = [
    "campaign_runs",
    "campaign_reports",
    "campaign_progress",
    "call_records",
    "call_records_quarantine",
    "dial_tasks",
    "number_lockouts",
    "blacklist",
    "calling_blackouts",
    "blacklist_rejected",
    "campaign_window_keys",
    "contacts",
    "campaigns",
]


@pytest.fixture
def db():
    """An autocommit connection to the campaign database, emptied before the test."""
    from include.campaigns.db import campaign_db

    with campaign_db() as conn:
        conn.execute("TRUNCATE " + ", ".join(CAMPAIGN_TABLES) + " RESTART IDENTITY CASCADE")
        yield conn


@pytest.fixture
def redis_client():
    from airflow.providers.redis.hooks.redis import RedisHook

    from include.campaigns.blacklist import OPT_OUT_SET

    client = RedisHook(redis_conn_id="campaigns_redis").get_conn()
    client.delete(OPT_OUT_SET)
    yield client
    client.delete(OPT_OUT_SET)


@pytest.fixture
def sqs():
    from include.campaigns.resources import sqs_client

    return sqs_client()


@pytest.fixture
def dial_queue(sqs):
    """A fresh dial queue for one test, so no test reads another's dial tasks."""
    url = sqs.create_queue(QueueName=f"dial-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "30"})[
        "QueueUrl"
    ]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def topic_inbox(sqs):
    """An SQS queue subscribed to the notification topic: what SNS published lands here."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from include.campaigns.resources import AWS_CONN_ID, topic_arn

    url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = SnsHook(aws_conn_id=AWS_CONN_ID).get_conn()
    subscription = sns.subscribe(
        TopicArn=topic_arn(), Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"}
    )["SubscriptionArn"]
    yield url
    sns.unsubscribe(SubscriptionArn=subscription)
    sqs.delete_queue(QueueUrl=url)


def drain(sqs, url: str, rounds: int = 3) -> list[dict]:
    """Everything on a queue now; moto answers at once, so a few empty rounds mean empty."""
    messages, empty = [], 0
    while empty < rounds:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            empty += 1
            continue
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return messages


@pytest.fixture
def dialer():
    """Start a dialer simulator on a queue; stopped when the test ends."""
    from dev.dialer_simulator import DialerSimulator

    started = []

    def start(queue_url: str, outcomes: dict[str, float] | None = None, seed: int = 1) -> DialerSimulator:
        simulator = DialerSimulator(queue_url, outcomes, seed).start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


ROW_CHECKS = ("campaigns_dates_finite", "campaigns_text_bounded")
ZONE_TRIGGERS = ("campaigns_timezone_known_insert", "campaigns_timezone_known_update")


@pytest.fixture
def legacy_rows(db):
    """Rows the database now refuses but may still hold (written before the row checks, or
    restored from an older dump): the checks are lifted for the test body and put back after."""
    definitions = db.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'campaigns'::regclass AND conname = ANY(%s)",
        (list(ROW_CHECKS),),
    ).fetchall()
    assert sorted(name for name, _ in definitions) == sorted(ROW_CHECKS)
    for name, _ in definitions:
        db.execute(f"ALTER TABLE campaigns DROP CONSTRAINT {name}")
    for trigger in ZONE_TRIGGERS:
        db.execute(f"ALTER TABLE campaigns DISABLE TRIGGER {trigger}")
    yield
    for trigger in ZONE_TRIGGERS:
        db.execute(f"ALTER TABLE campaigns ENABLE TRIGGER {trigger}")
    for name, definition in definitions:
        if "NOT VALID" not in definition:
            definition += " NOT VALID"
        db.execute(f"ALTER TABLE campaigns ADD CONSTRAINT {name} {definition}")


@pytest.fixture
def black_hole():
    """An endpoint that accepts connections and never answers: a sender there waits in a read."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
