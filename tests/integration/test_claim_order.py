"""The claim at scale: zones walked in index order and merged, shards, one dispatcher per shard."""

from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dev.seed import add_contacts, create_campaign
from include.campaigns import dispatch as d
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.claim import Claimer
from include.campaigns.config import parse_config
from include.campaigns.resolution import resolve_contacts
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import CAMPAIGN_TABLES, drain

pytestmark = pytest.mark.integration

ZONES = ["America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney"]


def hour_of_week(now: datetime, zone: str) -> int:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(zone))
    return local.weekday() * 24 + local.hour


contact_strategy = st.fixed_dictionaries(
    {
        "zone": st.integers(0, len(ZONES) - 1),
        "priority": st.integers(0, 2),
        "affinity": st.one_of(st.none(), st.sampled_from([0.5, 1.0, 1.5, 2.0, 0.25])),
        "attempts": st.integers(0, 3),
        "status": st.sampled_from(["pending", "pending", "pending", "failed", "in_flight", "completed"]),
        "retry_due": st.booleans(),
        "blacklisted": st.integers(0, 9).map(lambda n: n == 0),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contacts=st.lists(contact_strategy, min_size=15, max_size=60),
    model=st.one_of(st.none(), st.lists(st.floats(0.0625, 0.875, width=32), min_size=168, max_size=168)),
    page=st.integers(1, 7),
    chunks=st.lists(st.integers(1, 9), min_size=1, max_size=12),
)
def test_claims_come_in_exactly_the_claim_order_across_zones(db, contacts, model, page, chunks):
    """Priority, then the answer score at each contact's local hour, then fewer attempts, then
    the oldest: whatever the zones, ties, paging and chunk sizes."""
    db.execute(
        "TRUNCATE " + ", ".join(CAMPAIGN_TABLES) + ", answer_model, answer_rate_by_hour RESTART IDENTITY CASCADE"
    )
    now = datetime.now(timezone.utc)
    if model is not None:
        db.execute(
            "INSERT INTO answer_model (global_rate, hour_prior_strength, contact_prior_strength, calls) "
            "VALUES (0.3, 50, 10, 1000)"
        )
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO answer_rate_by_hour (hour_of_week, calls, answered, rate) VALUES (%s, 10, 3, %s)",
                list(enumerate(model)),
            )
    campaign_id = create_campaign(db, "order", config={"max_attempts": 3})
    phones = us_numbers(len(contacts), seed=7)
    ids = add_contacts(db, campaign_id, [{"phone": p, "priority": c["priority"]} for p, c in zip(phones, contacts)])
    for contact_id, phone, c in zip(ids, phones, contacts):
        zone = ZONES[c["zone"]]
        db.execute(
            "UPDATE contacts SET timezones = ARRAY[%s], jurisdiction = 'T', window_keys = ARRAY[%s], "
            "answer_affinity = %s, attempts = %s, status = %s, next_attempt_at = %s WHERE id = %s",
            (
                zone,
                f"{zone}|T",
                c["affinity"],
                c["attempts"],
                c["status"],
                now + timedelta(hours=-1 if c["retry_due"] else 1),
                contact_id,
            ),
        )
        if c["blacklisted"]:
            db.execute("INSERT INTO blacklist (phone) VALUES (%s)", (phone,))

    # The oracle: the rule as the README states it, over every contact.
    rates = {
        z: (
            float(
                db.execute(
                    "SELECT rate FROM answer_rate_by_hour WHERE hour_of_week = %s", (hour_of_week(now, z),)
                ).fetchone()[0]
            )
            if model is not None
            else 1.0
        )
        for z in ZONES
    }
    stored = {r[0]: r[1] for r in db.execute("SELECT id, answer_affinity FROM contacts")}
    eligible = [
        (-c["priority"], -rates[ZONES[c["zone"]]] * (stored[i] if stored[i] is not None else 1.0), c["attempts"], i)
        for i, c in zip(ids, contacts)
        if c["status"] in ("pending", "failed") and c["attempts"] < 3 and c["retry_due"] and not c["blacklisted"]
    ]
    expected = [key[3] for key in sorted(eligible)]

    campaign = load_campaign(db, campaign_id)
    run = RunContext(campaign_id=campaign_id, run_id="r", run_start=now, run_end=now + timedelta(hours=2), live=True)
    opened = {f"{z}|T": now + timedelta(hours=1) for z in ZONES}
    claimer = Claimer(db, campaign, parse_config(campaign.raw_config), run, opened, now, page=page)
    claimed: list[int] = []
    for size in chunks * 20:
        if claimer.exhausted:
            break
        claimed += [r["contact_id"] for r in claimer.claim(size)]
    assert claimed == expected[: len(claimed)]
    assert claimer.exhausted or len(claimed) == sum(chunks * 20)
    if claimer.exhausted:
        assert claimed == expected


def _campaign(db, dial_queue, count: int, max_in_flight: int = 500) -> tuple[Campaign, list[str]]:
    zone = open_zone()
    campaign_id = create_campaign(
        db,
        "sharded",
        max_in_flight=max_in_flight,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    phones = us_numbers(count, seed=11)
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
    return load_campaign(db, campaign_id), phones


def _run(campaign: Campaign) -> RunContext:
    now = datetime.now(timezone.utc)
    return RunContext(campaign_id=campaign.id, run_id="r", run_start=now, run_end=now + timedelta(hours=2), live=True)


def test_two_shards_dispatching_at_once_send_disjoint_halves_that_cover_everyone(db, redis_client, sqs, dial_queue):
    from include.campaigns.db import campaign_db

    campaign, phones = _campaign(db, dial_queue, 120)
    resolve_contacts(db, campaign)
    results, errors = {}, []
    start = threading.Barrier(2)

    def shard(n):
        try:
            with campaign_db() as conn:
                start.wait()
                results[n] = d.dispatch(conn, campaign, _run(campaign), shard=n, shard_count=2)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=shard, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    bodies = [json.loads(m["Body"]) for m in drain(sqs, dial_queue)]
    assert sorted(b["phone"] for b in bodies) == sorted(phones)  # everyone, once
    assert results[0].sent + results[1].sent == 120 and results[0].sent and results[1].sent
    # Each shard took only its own contacts.
    by_id = {r[0]: r[1] for r in db.execute("SELECT contact_id, run_id FROM dial_tasks")}
    assert len(by_id) == 120
    ledger = db.execute("SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM dial_tasks").fetchone()
    assert ledger == (120, 120)


def test_shards_share_the_hopper_and_never_overfill_it(db, redis_client, sqs, dial_queue):
    campaign, _ = _campaign(db, dial_queue, 60, max_in_flight=21)

    def in_flight():
        return db.execute("SELECT count(*) FROM dial_tasks WHERE status IN ('claimed', 'sent')").fetchone()[0]

    sent = [d.dispatch(db, campaign, _run(campaign), shard=n, shard_count=2).sent for n in (0, 1)]
    assert sent == [10, 5]  # each a half of the room it saw, rounded down
    assert in_flight() == 15
    # The sensor's top-up is one dispatcher: it fills the hopper exactly.
    assert d.dispatch(db, campaign, _run(campaign)).sent == 6
    assert in_flight() == 21
    assert d.dispatch(db, campaign, _run(campaign), shard=1, shard_count=2).sent == 0
    assert len(drain(sqs, dial_queue)) == 21


def test_a_second_dispatcher_of_the_same_shard_sends_nothing_while_the_first_is_alive(
    db, redis_client, sqs, dial_queue
):
    from include.campaigns.db import campaign_db

    campaign, phones = _campaign(db, dial_queue, 10)
    # A first dispatcher claimed everything and is still sending (its session holds the lock).
    with campaign_db() as first:
        assert first.execute("SELECT pg_try_advisory_lock(%s, 0)", (campaign.id,)).fetchone()[0]
        resolve_contacts(db, campaign)
        db.execute("UPDATE contacts SET status = 'in_flight', dispatches = 1, attempts = 1")
        db.execute(
            "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, not_after) "
            "SELECT 'c' || campaign_id || '-' || id || '-1', campaign_id, id, phone, 1, 'r', now() + interval '1 hour' "
            "FROM contacts"
        )
        result = d.dispatch(db, campaign, _run(campaign))
        assert (result.resent, result.sent) == (0, 0)
        assert drain(sqs, dial_queue) == []
    # The first one died without sending: its lock went with its session, and the claims are resent.
    result = d.dispatch(db, campaign, _run(campaign))
    assert result.resent == 10
    assert sorted(json.loads(m["Body"])["phone"] for m in drain(sqs, dial_queue)) == sorted(phones)


def test_a_time_budget_stops_claiming_and_the_next_call_goes_on(db, redis_client, sqs, dial_queue, monkeypatch):
    monkeypatch.setattr(d, "BUDGETED_CLAIM_CHUNK", 4)
    campaign, phones = _campaign(db, dial_queue, 30)
    first = d.dispatch(db, campaign, _run(campaign), time_budget_s=0)
    assert first.sent == 4  # the one chunk claimed before the budget was looked at
    rest = d.dispatch(db, campaign, _run(campaign))
    assert rest.sent == 26
    assert sorted(json.loads(m["Body"])["phone"] for m in drain(sqs, dial_queue)) == sorted(phones)


def test_a_claim_in_one_zone_does_not_read_the_campaigns_other_zones(db):
    """The walk is an index range: EXPLAIN shows it reads one zone's rows, in order, no sort."""
    campaign_id = create_campaign(db, "plan", config={})
    zone_rows = [{"phone": p} for p in us_numbers(200, seed=3)]
    ids = add_contacts(db, campaign_id, zone_rows)
    rng = random.Random(1)
    for contact_id in ids:
        zone = rng.choice(ZONES)
        db.execute(
            "UPDATE contacts SET timezones = ARRAY[%s], jurisdiction = 'T', window_keys = ARRAY[%s] WHERE id = %s",
            (zone, f"{zone}|T", contact_id),
        )
    db.execute("ANALYZE contacts")
    from include.campaigns.db import load_sql

    with db.transaction(force_rollback=True):
        # Small tables are cheaper to scan; what matters is that the index can serve this walk.
        db.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in db.execute(
                "EXPLAIN " + load_sql("dial_tasks_claim_walk"),
                {
                    "campaign_id": campaign_id,
                    "zone": ZONES[0],
                    "limit": 10,
                    "max_attempts": 3,
                    "open_keys": [f"{ZONES[0]}|T"],
                    "no_caps": True,
                    "cap_24h": None,
                    "legal_caps": "{}",
                    "shard": 0,
                    "shard_count": 1,
                    "after_priority": -(2**31),
                    "after_affinity": float("-inf"),
                    "after_attempts": -1,
                    "after_id": 0,
                },
                prepare=False,
            )
        )
    assert "contacts_claim_order_idx" in plan and "Sort" not in plan


def test_deleting_a_campaign_still_removes_its_dial_tasks(db, redis_client, sqs, dial_queue):
    """dial_tasks has no campaign foreign key (migration 0006); the cascade runs through contacts."""
    campaign, _ = _campaign(db, dial_queue, 5)
    assert d.dispatch(db, campaign, _run(campaign)).sent == 5
    db.execute("DELETE FROM campaigns WHERE id = %s", (campaign.id,))
    assert db.execute("SELECT count(*) FROM dial_tasks").fetchone()[0] == 0


def test_a_poke_tops_up_only_while_it_is_young_and_the_next_poke_goes_on(
    db, redis_client, sqs, dial_queue, monkeypatch
):
    from include.campaigns import progress

    monkeypatch.setattr(progress, "TOP_UP_CLAIMS_UNTIL_S", 0)
    monkeypatch.setattr(d, "BUDGETED_CLAIM_CHUNK", 3)
    campaign, phones = _campaign(db, dial_queue, 7)
    dispatched = [progress.poke(db, campaign.id, _run(campaign)).dispatched for _ in range(4)]
    assert dispatched == [3, 3, 1, 0]
    assert sorted(json.loads(m["Body"])["phone"] for m in drain(sqs, dial_queue)) == sorted(phones)
