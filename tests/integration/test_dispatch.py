"""Dispatch against the real services: who is sent, who is not, and how each send is accounted for."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from dev.seed import add_blacklist, add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import ingest
from include.campaigns.runs import RunContext
from tests.helpers import closed_zone, open_zone, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def run_context(campaign_id: int, run_id: str = "run-1", **overrides) -> RunContext:
    values: dict[str, Any] = dict(
        campaign_id=campaign_id,
        run_id=run_id,
        run_start=NOW - timedelta(minutes=1),
        run_end=NOW + timedelta(days=1),
        live=True,
    )
    values.update(overrides)
    return RunContext(**values)


@pytest.fixture
def make_campaign(db, dial_queue):
    def make(slug="dispatch_test", contacts=(), max_in_flight=500, **config):
        config = {
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
            **config,
        }
        campaign_id = create_campaign(db, slug, max_in_flight=max_in_flight, config=config)
        add_contacts(db, campaign_id, list(contacts))
        return load_campaign(db, campaign_id)

    return make


def sent_tasks(sqs, queue_url) -> list[dict]:
    return [json.loads(m["Body"]) for m in drain(sqs, queue_url)]


def statuses(db, campaign_id) -> dict[str, str]:
    return dict(db.execute("SELECT phone, status FROM contacts WHERE campaign_id = %s", (campaign_id,)).fetchall())


def test_contact_outside_local_window_is_not_dispatched(db, redis_client, make_campaign, sqs, dial_queue):
    day, night = us_numbers(2, seed=1)
    campaign = make_campaign(
        contacts=[{"phone": day, "timezone": open_zone()}, {"phone": night, "timezone": closed_zone()}]
    )
    result = dispatch(db, campaign, run_context(campaign.id))
    tasks = sent_tasks(sqs, dial_queue)
    assert [t["phone"] for t in tasks] == [day]
    assert result.sent == 1
    assert statuses(db, campaign.id)[night] == "pending"


def test_not_after_is_the_end_of_the_contacts_local_window(db, redis_client, make_campaign, sqs, dial_queue):
    from zoneinfo import ZoneInfo

    zone = open_zone()
    [phone] = us_numbers(1, seed=2)
    campaign = make_campaign(
        contacts=[{"phone": phone, "timezone": zone}], calling_window={"start": "08:00", "end": "17:30"}
    )
    dispatch(db, campaign, run_context(campaign.id))
    [task] = sent_tasks(sqs, dial_queue)
    not_after = datetime.fromisoformat(task["not_after"]).astimezone(ZoneInfo(zone))
    assert (not_after.hour, not_after.minute) == (17, 30)
    assert not_after.date() == datetime.now(ZoneInfo(zone)).date()


def test_not_after_never_passes_the_run_end(db, redis_client, make_campaign, sqs, dial_queue):
    [phone] = us_numbers(1, seed=3)
    campaign = make_campaign(contacts=[{"phone": phone, "timezone": open_zone()}])
    run_end = datetime.now(timezone.utc) + timedelta(minutes=7)
    dispatch(db, campaign, run_context(campaign.id, run_end=run_end))
    [task] = sent_tasks(sqs, dial_queue)
    assert datetime.fromisoformat(task["not_after"]) == run_end


def test_blacklisted_numbers_are_never_sent(db, redis_client, make_campaign, sqs, dial_queue):
    zone = open_zone()
    phones = us_numbers(6, seed=4)
    ok, global_bl, scoped_bl, other_scope, expired_bl, redis_bl = phones
    campaign = make_campaign(contacts=[{"phone": p, "timezone": zone} for p in phones])
    other = create_campaign(db, "someone_else")
    add_blacklist(db, [global_bl])
    add_blacklist(db, [scoped_bl], campaign_id=campaign.id)
    add_blacklist(db, [other_scope], campaign_id=other)
    add_blacklist(db, [expired_bl], expires_at=NOW - timedelta(days=1))
    redis_client.sadd("campaigns:blacklist", redis_bl)

    result = dispatch(db, campaign, run_context(campaign.id))

    assert sorted(t["phone"] for t in sent_tasks(sqs, dial_queue)) == sorted([ok, other_scope, expired_bl])
    assert result.revoked_redis == 1
    reasons = dict(db.execute("SELECT phone, status_reason FROM contacts WHERE status = 'blacklisted'").fetchall())
    assert reasons == {global_bl: "blacklist", scoped_bl: "blacklist", redis_bl: "blacklist_redis"}
    assert db.execute("SELECT count(*) FROM dial_tasks").fetchone()[0] == 3, "a withheld claim leaves no dial task"


def test_redis_down_dispatch_goes_on_with_postgres_blacklist(
    db, redis_client, make_campaign, sqs, dial_queue, monkeypatch, caplog
):
    zone = open_zone()
    ok, pg_bl = us_numbers(2, seed=5)
    campaign = make_campaign(contacts=[{"phone": p, "timezone": zone} for p in (ok, pg_bl)])
    add_blacklist(db, [pg_bl])
    monkeypatch.setenv(
        "AIRFLOW_CONN_CAMPAIGNS_REDIS",
        json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": 1, "extra": {"db": 1}}),
    )
    with caplog.at_level(logging.WARNING):
        result = dispatch(db, campaign, run_context(campaign.id))
    assert [t["phone"] for t in sent_tasks(sqs, dial_queue)] == [ok]
    assert result.redis_available is False
    assert "checking the PostgreSQL blacklist only" in caplog.text


def test_dispatch_tops_up_to_the_hopper_level_only(db, redis_client, make_campaign, sqs, dial_queue):
    zone = open_zone()
    campaign = make_campaign(
        contacts=[{"phone": p, "timezone": zone} for p in us_numbers(25, seed=6)], max_in_flight=10
    )
    assert dispatch(db, campaign, run_context(campaign.id)).sent == 10
    assert dispatch(db, campaign, run_context(campaign.id)).sent == 0
    # The dialer answers three of them: three places open in the hopper.
    rows = db.execute("SELECT dial_attempt_id, contact_id, phone FROM dial_tasks LIMIT 3").fetchall()
    for dial_attempt_id, contact_id, phone in rows:
        db.execute(
            "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
            "ended_at) VALUES (%s, %s, %s, %s, 'answered', now(), now())",
            (dial_attempt_id, campaign.id, contact_id, phone),
        )
    ingest(db, campaign)
    assert dispatch(db, campaign, run_context(campaign.id)).sent == 3
    assert len({t["dial_attempt_id"] for t in sent_tasks(sqs, dial_queue)}) == 13


def test_max_contacts_limits_one_run(db, redis_client, make_campaign, sqs, dial_queue):
    zone = open_zone()
    campaign = make_campaign(contacts=[{"phone": p, "timezone": zone} for p in us_numbers(12, seed=7)])
    assert dispatch(db, campaign, run_context(campaign.id, max_contacts=5)).sent == 5
    assert dispatch(db, campaign, run_context(campaign.id, max_contacts=5)).sent == 0
    assert dispatch(db, campaign, run_context(campaign.id, run_id="run-2", max_contacts=5)).sent == 5


def test_dry_run_reports_what_would_be_sent_and_changes_nothing(db, redis_client, make_campaign, sqs, dial_queue):
    zone = open_zone()
    campaign = make_campaign(contacts=[{"phone": p, "timezone": zone} for p in us_numbers(7, seed=8)])
    result = dispatch(db, campaign, run_context(campaign.id, dry_run=True))
    assert result.would_dispatch == 7
    assert all(s.startswith("***") and len(s) == 7 for s in result.sample)
    assert sent_tasks(sqs, dial_queue) == []
    assert db.execute("SELECT count(*) FROM dial_tasks").fetchone()[0] == 0
    assert set(statuses(db, campaign.id).values()) == {"pending"}
    assert db.execute("SELECT sum(attempts) FROM contacts").fetchone()[0] == 0


def test_a_run_past_its_end_sends_nothing(db, redis_client, make_campaign, sqs, dial_queue):
    zone = open_zone()
    campaign = make_campaign(contacts=[{"phone": p, "timezone": zone} for p in us_numbers(3, seed=9)])
    ended = run_context(campaign.id, run_end=NOW - timedelta(minutes=1))
    assert dispatch(db, campaign, ended).sent == 0
    assert sent_tasks(sqs, dial_queue) == []


def test_invalid_numbers_are_marked_with_a_reason_and_never_sent(db, redis_client, make_campaign, sqs, dial_queue):
    [good] = us_numbers(1, seed=10)
    campaign = make_campaign(
        contacts=[
            {"phone": good, "timezone": open_zone()},
            {"phone": "+1555"},
            {"phone": "212555012"},
            {"phone": good[:-1] + "x"},
        ]
    )
    dispatch(db, campaign, run_context(campaign.id))
    assert [t["phone"] for t in sent_tasks(sqs, dial_queue)] == [good]
    reasons = [r[0] for r in db.execute("SELECT status_reason FROM contacts WHERE status = 'invalid'").fetchall()]
    assert len(reasons) == 3 and all(r.startswith("invalid_phone:") for r in reasons)


class FlakySqs:
    """The real SQS client, except that chosen batch entries come back in `Failed` the first times."""

    def __init__(self, client, fail_times: int = 1, every: int = 3):
        self.client, self.fail_times, self.every, self.calls = client, fail_times, every, 0

    def send_message_batch(self, QueueUrl, Entries):
        self.calls += 1
        if self.calls <= self.fail_times:
            failing = Entries[:: self.every]
            passing = [e for e in Entries if e not in failing]
            response = self.client.send_message_batch(QueueUrl=QueueUrl, Entries=passing) if passing else {}
            return {
                "Successful": response.get("Successful", []),
                "Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "ServiceUnavailable"} for e in failing],
            }
        return self.client.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)


def test_partial_batch_failures_retry_only_the_failed_entries(db, redis_client, make_campaign, sqs, dial_queue):
    zone = open_zone()
    campaign = make_campaign(contacts=[{"phone": p, "timezone": zone} for p in us_numbers(10, seed=12)])
    flaky = FlakySqs(sqs, fail_times=2)
    result = dispatch(db, campaign, run_context(campaign.id), client=flaky, queue_url=dial_queue)
    tasks = sent_tasks(sqs, dial_queue)
    assert result.sent == 10
    assert Counter(t["dial_attempt_id"] for t in tasks).most_common(1)[0][1] == 1
    assert len(tasks) == 10
    assert db.execute("SELECT count(*) FROM dial_tasks WHERE status = 'sent'").fetchone()[0] == 10


def test_fifo_queue_groups_by_campaign_and_deduplicates_a_resend(db, redis_client, make_campaign, sqs):
    import uuid

    fifo = sqs.create_queue(QueueName=f"dial-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    zone = open_zone()
    campaign = make_campaign(
        slug="fifo", contacts=[{"phone": p, "timezone": zone} for p in us_numbers(3, seed=13)], dial_queue=fifo
    )
    dispatch(db, campaign, run_context(campaign.id))
    # A crash after the send but before it was marked sent: the retry resends the same ids.
    db.execute("UPDATE dial_tasks SET status = 'claimed', sent_at = NULL")
    assert dispatch(db, campaign, run_context(campaign.id)).resent == 3
    received = []
    for _ in range(3):
        batch = sqs.receive_message(
            QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId", "MessageDeduplicationId"]
        ).get("Messages", [])
        received += batch
        if batch:
            sqs.delete_message_batch(
                QueueUrl=fifo,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
    sqs.delete_queue(QueueUrl=fifo)
    assert len(received) == 3, "the FIFO queue dropped the resends as duplicates"
    assert {m["Attributes"]["MessageGroupId"] for m in received} == {f"campaign-{campaign.id}"}
    assert {m["Attributes"]["MessageDeduplicationId"] for m in received} == {
        json.loads(m["Body"])["dial_attempt_id"] for m in received
    }


def test_alabama_contact_is_not_called_on_a_legal_holiday_or_a_sunday(db, redis_client, make_campaign, sqs, dial_queue):
    phone = "+12052345678"  # Alabama: no Sunday calls, no calls on legal holidays
    campaign = make_campaign(
        slug="alabama", contacts=[{"phone": phone, "timezone": "America/Chicago"}], skip_public_holidays=False
    )
    thanksgiving = datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)  # 14:00 in Alabama
    sunday = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)
    friday = datetime(2026, 11, 27, 20, 0, tzinfo=timezone.utc)
    for instant, expected in ((thanksgiving, 0), (sunday, 0), (friday, 1)):
        run = run_context(campaign.id, run_start=instant, run_end=instant + timedelta(days=1))
        assert dispatch(db, campaign, run, now=instant).sent == expected, instant


def test_campaign_blackout_dates_and_public_holidays_hold_back_everyone(db, redis_client, make_campaign):
    phone = "+12125550123"  # New York
    campaign = make_campaign(
        slug="blackout",
        contacts=[{"phone": phone, "timezone": "America/New_York"}],
        skip_public_holidays=True,
        blackout_dates=["2026-12-24"],
    )
    christmas_eve = datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)
    christmas = datetime(2026, 12, 25, 17, 0, tzinfo=timezone.utc)
    for instant in (christmas_eve, christmas):
        run = run_context(campaign.id, run_start=instant, run_end=instant + timedelta(days=1))
        assert dispatch(db, campaign, run, now=instant).sent == 0, instant
