"""The dial-safety promises as properties, against real PostgreSQL, Redis and SQS (moto).

Several campaigns share phone numbers; all their dispatchers (every shard, and a sensor top-up)
start at the same instant; results come back late (after their task expired, and after the
contact was dialed again), out of order, duplicated, for runs that were cancelled, with opt-outs
among them; the maintenance pass ingests while the next dispatch round claims. Then:

- no number is over any cap (the campaigns' 24 h cap and Florida's legal 3 per 24 h);
- no number is claimed after an opt-out of it was recorded, by any campaign;
- no contact is claimed after a conversion or answer of it was recorded;
- no dial_attempt_id goes out under two different attempts, and each goes out once;
- every contact still eligible at the end was dialed, unless a cap or a blacklist keeps it out.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import expire_tasks
from include.campaigns.results import ingest_all
from tests.helpers import open_zone, run_context, together, us_numbers
from tests.integration.conftest import CAMPAIGN_TABLES, drain

pytestmark = pytest.mark.integration

NEW_YORK = us_numbers(6, seed=301, area="212")
FLORIDA = us_numbers(6, seed=302, area="305")
FLORIDA_CAP = 3
OUTCOMES = ["answered", "converted", "busy", "no_answer", "failed", "voicemail", "opted_out"]
FINAL = {"answered", "converted"}


def dispatch_round(
    campaigns: list[Campaign], shards: dict[int, int], top_up: int | None, run_id: str, also=None
) -> None:
    jobs: list[Callable] = [
        lambda conn, c=c, s=s: dispatch(
            conn, load_campaign(conn, c.id), run_context(c.id, run_id), shard=s, shard_count=shards[c.id]
        )
        for c in campaigns
        for s in range(shards[c.id])
    ]
    if top_up is not None:
        c = campaigns[top_up % len(campaigns)]
        jobs.append(lambda conn: dispatch(conn, load_campaign(conn, c.id), run_context(c.id, run_id)))
    if also is not None:
        jobs.append(also)
    errors = together(*jobs)
    assert not errors, errors


def write_result(db, task: dict, outcome: str) -> datetime | None:
    """The dialer writes one record (a duplicate is dropped, as the simulator drops it); when it
    was committed, by the database's clock, or None for a duplicate."""
    cur = db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour) VALUES (%s, %s, %s, %s, %s, now(), now(), 20, 13) "
        "ON CONFLICT (dial_attempt_id) DO NOTHING",
        (task["dial_attempt_id"], task["campaign_id"], task["contact_id"], task["phone"], outcome),
    )
    if cur.rowcount == 0:
        return None
    return db.execute("SELECT clock_timestamp()").fetchone()[0]


def tasks(db, where: str = "true") -> list[dict]:
    cur = db.execute(
        "SELECT dial_attempt_id, campaign_id, contact_id, phone, attempt, status, claimed_at "
        f"FROM dial_tasks WHERE {where}"
    )
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


scenario = st.fixed_dictionaries(
    {
        "campaigns": st.integers(2, 3),
        "cap": st.sampled_from([None, 1, 2]),
        "members": st.lists(st.lists(st.booleans(), min_size=12, max_size=12), min_size=3, max_size=3),
        "shards": st.lists(st.integers(1, 3), min_size=3, max_size=3),
        "top_up": st.one_of(st.none(), st.integers(0, 2)),
        "cancel": st.one_of(st.none(), st.integers(0, 2)),
        "seed": st.integers(0, 2**32 - 1),
    }
)


@settings(
    max_examples=18,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario)
def test_nobody_is_dialed_who_must_not_be(db, redis_client, sqs, dial_queue, s):
    from include.campaigns.blacklist import OPT_OUT_SET

    db.execute("TRUNCATE " + ", ".join(CAMPAIGN_TABLES) + " RESTART IDENTITY CASCADE")
    redis_client.delete(OPT_OUT_SET)
    drain(sqs, dial_queue, rounds=1)
    rng = random.Random(s["seed"])
    pool = NEW_YORK + FLORIDA
    zone = open_zone()
    config = {
        "dial_queue": dial_queue,
        "skip_public_holidays": False,
        "max_attempts": 3,
        "calling_window": {"start": "08:00", "end": "21:00"},
        "retry_delays_s": {o: 0 for o in ("busy", "no_answer", "failed", "voicemail")},
        **({"max_attempts_per_24h": s["cap"]} if s["cap"] else {}),
    }
    campaigns, shards = [], {}
    for i in range(s["campaigns"]):
        phones = [p for p, member in zip(pool, s["members"][i]) if member] or pool[i : i + 1]
        campaign_id = create_campaign(
            db, f"prop_{i}", max_in_flight=1000, config={**config, "dispatch_shards": s["shards"][i]}
        )
        add_contacts(
            db, campaign_id, [{"phone": p, "timezone": zone, "region": "FL" if p in FLORIDA else None} for p in phones]
        )
        campaigns.append(load_campaign(db, campaign_id))
        shards[campaign_id] = s["shards"][i]

    opted_at: dict[str, datetime] = {}  # phone -> when its first opt-out was committed
    final_at: dict[int, datetime] = {}  # contact -> when its first answer or conversion was committed
    messages = []

    def results_for(batch: list[dict], late: bool) -> None:
        """Results of these tasks, shuffled and some duplicated; late ones after their task expired."""
        if late:
            ids = [t["dial_attempt_id"] for t in batch]
            db.execute(
                "UPDATE dial_tasks SET not_after = now() - interval '3 hours' WHERE dial_attempt_id = ANY(%s)", (ids,)
            )
            for c in campaigns:
                expire_tasks(db, c)
        order = batch + rng.sample(batch, k=len(batch) // 3)
        rng.shuffle(order)
        for task in order:
            outcome = rng.choice(OUTCOMES)
            committed = write_result(db, task, outcome)
            if committed is None:
                continue
            if outcome == "opted_out":
                opted_at.setdefault(task["phone"], committed)
            elif outcome in FINAL:
                final_at.setdefault(task["contact_id"], committed)

    # Round 1: every shard of every campaign, and a top-up, at the same instant.
    dispatch_round(campaigns, shards, s["top_up"], "run-1")
    messages += drain(sqs, dial_queue, rounds=1)
    if s["cancel"] is not None:
        db.execute(
            "UPDATE campaigns SET status = 'cancelled' WHERE id = %s", (campaigns[s["cancel"] % len(campaigns)].id,)
        )
    sent = tasks(db, "status = 'sent'")
    rng.shuffle(sent)
    late, on_time = sent[: len(sent) // 3], sent[len(sent) // 3 :]
    results_for(on_time[: len(on_time) // 2], late=False)
    # Round 2 claims while the maintenance pass ingests; the late tasks' contacts are eligible again.
    results_for(late, late=True)
    dispatch_round(campaigns, shards, s["top_up"], "run-2", also=ingest_all)
    messages += drain(sqs, dial_queue, rounds=1)
    results_for(on_time[len(on_time) // 2 :], late=False)
    results_for(tasks(db, "status = 'sent'"), late=rng.random() < 0.5)
    dispatch_round(campaigns, shards, s["top_up"], "run-3", also=ingest_all)
    messages += drain(sqs, dial_queue, rounds=1)
    # The last word: everything ingested, then one dispatcher per campaign, alone.
    ingest_all(db)
    for c in campaigns:
        dispatch(db, load_campaign(db, c.id), run_context(c.id, "run-4"))
    messages += drain(sqs, dial_queue)

    every = tasks(db)
    by_id = {t["dial_attempt_id"]: t for t in every}

    # One dial_attempt_id, one attempt; each sent once (nothing crashed, so nothing is resent).
    bodies = [json.loads(m["Body"]) for m in messages]
    seen = defaultdict(set)
    for body in bodies:
        seen[body["dial_attempt_id"]].add((body["campaign_id"], body["contact_id"], body["phone"], body["attempt"]))
    assert all(len(v) == 1 for v in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    assert not [k for k, n in Counter(b["dial_attempt_id"] for b in bodies).items() if n > 1]
    assert set(seen) == {t["dial_attempt_id"] for t in every}, "a dial task left unsent, or a message with no task"
    for body in bodies:
        task = by_id[body["dial_attempt_id"]]
        assert (body["contact_id"], body["phone"], body["attempt"]) == (
            task["contact_id"],
            task["phone"],
            task["attempt"],
        )

    # Caps: every campaign has the same 24 h cap; Florida's legal cap applies to all of them. A
    # task the rules expired is no call, unless its result came after all (it is then completed):
    # the claims that came after that result counted it.
    calls = Counter(t["phone"] for t in every if t["status"] != "expired")
    for phone, n in calls.items():
        cap = min(s["cap"] or 10**9, FLORIDA_CAP if phone in FLORIDA else 10**9)
        assert n <= cap, f"{phone[-4:]}: {n} calls in 24 h, cap {cap}"

    # Nobody claimed after their opt-out, or after their answer, was recorded.
    for t in every:
        if t["phone"] in opted_at:
            assert t["claimed_at"] <= opted_at[t["phone"]], f"{t['dial_attempt_id']} claimed after an opt-out"
        if t["contact_id"] in final_at:
            assert t["claimed_at"] <= final_at[t["contact_id"]], f"{t['dial_attempt_id']} claimed after an answer"
    blacklisted = {
        r[0]
        for r in db.execute("SELECT phone FROM blacklist WHERE campaign_id IS NULL AND expires_at IS NULL").fetchall()
    }
    assert set(opted_at) <= blacklisted
    assert set(opted_at) <= {p.decode() for p in redis_client.smembers(OPT_OUT_SET)}

    # Results reached their contacts, whatever their run's state.
    assert db.execute("SELECT count(*) FROM call_records WHERE ingested_at IS NULL").fetchone()[0] == 0
    status = dict(db.execute("SELECT id, status FROM contacts").fetchall())
    for contact_id in final_at:
        assert status[contact_id] in ("completed", "opted_out"), (contact_id, status[contact_id])

    # Everyone still eligible was dialed, unless a cap or the blacklist keeps them out.
    counted = Counter(t["phone"] for t in every if t["status"] != "expired")  # what a claim counts
    waiting = db.execute(
        "SELECT c.id, c.phone FROM contacts c JOIN campaigns k ON k.id = c.campaign_id "
        "WHERE k.status IN ('scheduled', 'active') AND c.status IN ('pending', 'failed') "
        "AND (c.next_attempt_at IS NULL OR c.next_attempt_at <= now()) AND c.attempts < 3"
    ).fetchall()
    for contact_id, phone in waiting:
        cap = min(s["cap"] or 10**9, FLORIDA_CAP if phone in FLORIDA else 10**9)
        assert phone in blacklisted or counted[phone] >= cap, f"contact {contact_id} eligible and never dialed"
