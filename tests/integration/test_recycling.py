"""What happens after a dial: retries, recycling, caps, opt-outs and expired dial tasks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import ingest, poke
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers, zone_at_local_hour
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


def run_ctx(campaign_id, run_id="run-1", **kw):
    now = datetime.now(timezone.utc)
    return RunContext(
        **{
            "campaign_id": campaign_id,
            "run_id": run_id,
            "run_start": now,
            "run_end": now + timedelta(days=1),
            "live": True,
            **kw,
        }
    )


@pytest.fixture
def campaign_with(db, dial_queue):
    def make(phones, slug="recycle", tz=None, **config):
        zone = tz or open_zone()
        config = {
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
            **config,
        }
        campaign_id = create_campaign(db, slug, config=config)
        add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
        return load_campaign(db, campaign_id)

    return make


def dial(db, outcome: str, phone: str | None = None) -> None:
    """The dialer reports an outcome for the open dial tasks (of one phone, or all)."""
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at) "
        "SELECT dial_attempt_id, campaign_id, contact_id, phone, %s, now(), now() FROM dial_tasks "
        "WHERE status = 'sent' AND (%s::text IS NULL OR phone = %s::text)",
        (outcome, phone, phone),
    )


def contact(db, phone):
    return db.execute(
        "SELECT status, attempts, next_attempt_at, last_outcome FROM contacts WHERE phone = %s ORDER BY id LIMIT 1",
        (phone,),
    ).fetchone()


def test_busy_contact_is_retried_after_its_delay_and_exhausted_at_max_attempts(
    db, redis_client, campaign_with, sqs, dial_queue
):
    [phone] = us_numbers(1, seed=20)
    campaign = campaign_with([phone], max_attempts=2, retry_delays_s={"busy": 0})
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == 1
    dial(db, "busy")
    ingest(db, campaign)
    status, attempts, next_at, outcome = contact(db, phone)
    assert (status, attempts, outcome) == ("failed", 1, "busy")
    assert next_at <= datetime.now(timezone.utc)

    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == 1
    dial(db, "busy")
    ingest(db, campaign)
    assert contact(db, phone)[:2] == ("exhausted", 2)
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == 0
    ids = [json.loads(m["Body"])["dial_attempt_id"] for m in drain(sqs, dial_queue)]
    assert len(ids) == len(set(ids)) == 2


def test_retry_waits_for_its_delay(db, redis_client, campaign_with):
    [phone] = us_numbers(1, seed=21)
    campaign = campaign_with([phone], retry_delays_s={"no_answer": 7200})
    dispatch(db, campaign, run_ctx(campaign.id))
    dial(db, "no_answer")
    ingest(db, campaign)
    status, _, next_at, _ = contact(db, phone)
    assert status == "failed" and next_at >= datetime.now(timezone.utc) + timedelta(minutes=119)
    assert dispatch(db, campaign, run_ctx(campaign.id)).sent == 0


def test_retry_rolls_over_the_night_into_the_next_window(db, redis_client, campaign_with):
    from zoneinfo import ZoneInfo

    zone = zone_at_local_hour(19)
    [phone] = us_numbers(1, seed=22, area="201")  # New Jersey: the federal floor, 08:00-21:00
    campaign = campaign_with([phone], tz=zone, retry_delays_s={"busy": 3 * 3600})
    dispatch(db, campaign, run_ctx(campaign.id))
    dial(db, "busy")
    ingest(db, campaign)
    next_at = contact(db, phone)[2].astimezone(ZoneInfo(zone))
    # 19:xx + 3 h is after the 21:00 legal end: the retry moves to 08:00 next morning.
    assert (next_at.hour, next_at.minute) == (8, 0)
    assert next_at.date() == (datetime.now(ZoneInfo(zone)) + timedelta(days=1)).date()


def test_opt_out_blacklists_the_number_everywhere_at_once(db, redis_client, campaign_with, dial_queue):
    phone, other = us_numbers(2, seed=23)
    campaign = campaign_with([phone, other])
    second = campaign_with([phone], slug="another_campaign")
    dispatch(db, campaign, run_ctx(campaign.id))
    dial(db, "opted_out", phone)
    ingest(db, campaign)
    assert contact(db, phone)[0] == "opted_out"
    assert db.execute("SELECT reason, campaign_id FROM blacklist WHERE phone = %s", (phone,)).fetchone() == (
        "opted_out",
        None,
    )
    assert redis_client.sismember("campaigns:blacklist", phone)
    assert dispatch(db, second, run_ctx(second.id)).sent == 0
    assert db.execute("SELECT status FROM contacts WHERE campaign_id = %s", (second.id,)).fetchone()[0] == "blacklisted"


def test_frequency_cap_counts_attempts_across_campaigns(db, redis_client, campaign_with):
    [phone] = us_numbers(1, seed=24)
    first = campaign_with([phone], max_attempts_per_24h=1)
    second = campaign_with([phone], slug="second", max_attempts_per_24h=1)
    assert dispatch(db, first, run_ctx(first.id)).sent == 1
    assert dispatch(db, second, run_ctx(second.id)).sent == 0
    assert db.execute("SELECT status FROM contacts WHERE campaign_id = %s", (second.id,)).fetchone()[0] == "pending"


def test_florida_allows_three_attempts_a_day_whatever_the_campaign_says(db, redis_client, campaign_with):
    phone = "+13055550123"  # a Florida number: 08:00-20:00 and at most 3 calls in 24 h
    campaign = campaign_with([phone], tz=zone_at_local_hour(12), max_attempts=10, retry_delays_s={"busy": 0})
    sent = 0
    for _ in range(5):
        sent += dispatch(db, campaign, run_ctx(campaign.id)).sent
        dial(db, "busy")
        ingest(db, campaign)
    assert sent == 3
    assert contact(db, phone)[:2] == ("failed", 3)


def test_a_number_in_two_zones_is_called_only_when_both_are_open(db, redis_client, dial_queue):
    from include.campaigns.calling_window import WindowPolicy
    from include.campaigns.phones import resolve

    phone = "+61412345678"  # an Australian mobile: phonenumbers maps it to every Australian zone
    zones = resolve(phone).timezones
    assert len(zones) > 1
    campaign_id = create_campaign(db, "multizone", config={"dial_queue": dial_queue, "skip_public_holidays": False})
    add_contacts(db, campaign_id, [{"phone": phone}])
    campaign = load_campaign(db, campaign_id)
    result = dispatch(db, campaign, run_ctx(campaign_id))
    policy = WindowPolicy(skip_public_holidays=False)
    now = datetime.now(timezone.utc)
    all_open = all(policy.is_open(z, "AU", now) for z in zones)
    assert result.sent == (1 if all_open else 0)
    assert db.execute(
        "SELECT cardinality(window_keys) FROM contacts WHERE id = (SELECT max(id) FROM contacts)"
    ).fetchone()[0] == len(zones)


def test_a_sent_task_with_no_result_by_its_deadline_expires_and_the_contact_is_eligible_again(
    db, redis_client, campaign_with, sqs, dial_queue
):
    [phone] = us_numbers(1, seed=25)
    campaign = campaign_with([phone], expiry_grace_s=0, max_attempts=1)
    dispatch(db, campaign, run_ctx(campaign.id))
    # A call may start up to not_after and last max_call_duration_s (default 3600 s): then it is over.
    db.execute("UPDATE dial_tasks SET not_after = now() - interval '3601 seconds'")
    result = poke(db, campaign.id, run_ctx(campaign.id))
    assert result.expired_tasks == 1
    # The expired task was not an attempt: with max_attempts=1 the contact is dialed again, under a new id.
    ids = sorted(r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks ORDER BY claimed_at").fetchall())
    statuses = [r[0] for r in db.execute("SELECT status FROM dial_tasks ORDER BY claimed_at").fetchall()]
    assert statuses == ["expired", "sent"] and len(set(ids)) == 2
    assert contact(db, phone)[:2] == ("in_flight", 1)


def test_paused_campaign_waits_and_dispatches_nothing(db, redis_client, campaign_with):
    phones = us_numbers(3, seed=26)
    campaign = campaign_with(phones)
    db.execute("UPDATE campaigns SET status = 'paused' WHERE id = %s", (campaign.id,))
    result = poke(db, campaign.id, run_ctx(campaign.id))
    assert (result.done, result.dispatched) == (False, 0)
    db.execute("UPDATE campaigns SET status = 'active' WHERE id = %s", (campaign.id,))
    assert poke(db, campaign.id, run_ctx(campaign.id)).dispatched == 3


def test_cancelled_campaign_finishes_at_once_and_sends_nothing_new(db, redis_client, campaign_with):
    campaign = campaign_with(us_numbers(3, seed=27))
    db.execute("UPDATE campaigns SET status = 'cancelled' WHERE id = %s", (campaign.id,))
    result = poke(db, campaign.id, run_ctx(campaign.id))
    assert (result.done, result.outcome, result.dispatched) == (True, "cancelled", 0)


def test_the_campaigns_end_finishes_the_run_and_counts_unreached_contacts_as_expired(db, redis_client, campaign_with):
    campaign = campaign_with(us_numbers(4, seed=28))
    now = datetime.now(timezone.utc)
    db.execute("UPDATE campaigns SET end_at = %s WHERE id = %s", (now - timedelta(seconds=1), campaign.id))
    result = poke(db, campaign.id, run_ctx(campaign.id, run_end=now - timedelta(seconds=1)))
    assert (result.done, result.outcome, result.campaign_ended) == (True, "completed_at_end", True)
    assert result.counts == {"expired": 4}
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign.id,)).fetchone()[0] == "completed"


def recurring(db, campaign):
    db.execute(
        "UPDATE campaigns SET schedule = '*/2 * * * *', end_at = now() + interval '1 day' WHERE id = %s", (campaign.id,)
    )


def test_a_runs_interval_end_leaves_waiting_contacts_for_the_next_run(db, redis_client, campaign_with):
    from tests.helpers import closed_zone

    retry_phone, night_phone = us_numbers(2, seed=31)
    campaign = campaign_with([retry_phone], retry_delays_s={"no_answer": 7200})
    add_contacts(db, campaign.id, [{"phone": night_phone, "timezone": closed_zone()}])
    recurring(db, campaign)
    assert poke(db, campaign.id, run_ctx(campaign.id)).dispatched == 1
    dial(db, "no_answer")
    ended = poke(db, campaign.id, run_ctx(campaign.id, run_end=datetime.now(timezone.utc)))
    assert (ended.done, ended.outcome, ended.campaign_ended) == (True, "interval_ended", False)
    assert contact(db, retry_phone)[0] == "failed" and contact(db, retry_phone)[2] > datetime.now(timezone.utc)
    assert contact(db, night_phone)[:2] == ("pending", 0)
    assert db.execute("SELECT count(*) FROM contacts WHERE status = 'expired'").fetchone()[0] == 0
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign.id,)).fetchone()[0] == "scheduled"


def test_a_run_that_finds_nobody_callable_ends_nothing_to_do_and_keeps_the_campaign_scheduled(
    db, redis_client, campaign_with
):
    from tests.helpers import closed_zone

    campaign = campaign_with(us_numbers(2, seed=32), tz=closed_zone())
    recurring(db, campaign)
    waiting = poke(db, campaign.id, run_ctx(campaign.id, run_id="run-2"))
    assert (waiting.done, waiting.dispatched) == (False, 0), "the window may open before the run ends"
    ended = poke(db, campaign.id, run_ctx(campaign.id, run_id="run-2", run_end=datetime.now(timezone.utc)))
    assert (ended.done, ended.outcome) == (True, "nothing_to_do")
    assert ended.counts == {"pending": 2}
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign.id,)).fetchone()[0] == "scheduled"


def test_a_run_whose_retries_fall_due_in_a_later_run_ends_now_and_leaves_them_waiting(db, redis_client, campaign_with):
    [phone] = us_numbers(1, seed=33)
    campaign = campaign_with([phone], retry_delays_s={"busy": 7200})
    recurring(db, campaign)
    run = run_ctx(campaign.id, run_end=datetime.now(timezone.utc) + timedelta(minutes=30))
    poke(db, campaign.id, run)
    dial(db, "busy")
    done = poke(db, campaign.id, run)
    assert (done.done, done.outcome, done.counts) == (True, "completed", {"failed": 1})
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign.id,)).fetchone()[0] == "scheduled"


def test_a_run_with_max_contacts_ends_once_its_dial_tasks_have_results(db, redis_client, campaign_with):
    campaign = campaign_with(us_numbers(5, seed=34))
    recurring(db, campaign)
    run = run_ctx(campaign.id, max_contacts=2)
    first = poke(db, campaign.id, run)
    assert (first.done, first.dispatched) == (False, 2)
    assert poke(db, campaign.id, run).done is False, "two dial tasks are still out"
    dial(db, "answered")
    done = poke(db, campaign.id, run)
    assert (done.done, done.outcome, done.dispatched) == (True, "limit_reached", 0)
    assert done.counts == {"completed": 2, "pending": 3}, "the rest carry over to the next run"
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign.id,)).fetchone()[0] == "scheduled"


def test_a_run_with_max_contacts_also_ends_when_its_dial_tasks_expire(db, redis_client, campaign_with):
    campaign = campaign_with(us_numbers(3, seed=35), expiry_grace_s=0, max_call_duration_s=1)
    run = run_ctx(campaign.id, max_contacts=1)
    assert poke(db, campaign.id, run).dispatched == 1
    # Past not_after by more than the longest call: it can no longer be ringing or talking.
    db.execute("UPDATE dial_tasks SET not_after = now() - interval '2 seconds'")
    done = poke(db, campaign.id, run)
    assert (done.done, done.outcome, done.expired_tasks) == (True, "limit_reached", 1)
    assert done.counts == {"pending": 3}


def test_poke_completes_when_nothing_is_pending_or_in_flight(db, redis_client, campaign_with):
    campaign = campaign_with(us_numbers(2, seed=29))
    first = poke(db, campaign.id, run_ctx(campaign.id))
    assert (first.done, first.dispatched) == (False, 2)
    dial(db, "answered")
    done = poke(db, campaign.id, run_ctx(campaign.id))
    assert (done.done, done.outcome, done.ingested) == (True, "completed", 2)
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign.id,)).fetchone()[0] == "completed"


def test_blacklist_sync_warms_redis_with_active_global_entries(db, redis_client):
    from dev.seed import add_blacklist
    from include.campaigns.blacklist import sync_from_postgres

    active, expired, scoped = us_numbers(3, seed=30)
    add_blacklist(db, [active])
    add_blacklist(db, [expired], expires_at=datetime.now(timezone.utc) - timedelta(days=1))
    add_blacklist(db, [scoped], campaign_id=create_campaign(db, "scoped_list"))
    assert sync_from_postgres(db) == 1
    assert redis_client.smembers("campaigns:blacklist") == {active.encode()}
