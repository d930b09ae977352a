"""Caps, shards and run limits hold when several dispatchers claim at the same instant."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.claim import Claimer
from include.campaigns.config import parse_config
from include.campaigns.dispatch import dispatch
from tests.helpers import open_zone, run_context, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


def make(db, dial_queue, slug: str, phones, *, region=None, max_in_flight=2000, **config) -> Campaign:
    config = {
        "dial_queue": dial_queue,
        "skip_public_holidays": False,
        "calling_window": {"start": "08:00", "end": "21:00"},
        **config,
    }
    campaign_id = create_campaign(db, slug, max_in_flight=max_in_flight, config=config)
    zone = open_zone()
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone, "region": region} for p in phones])
    return load_campaign(db, campaign_id)


def together(jobs) -> list:
    """Run each job on its own connection, all released at the same instant; their results."""
    from include.campaigns.db import campaign_db

    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def run(i, job):
        try:
            with campaign_db() as conn:
                barrier.wait()
                results[i] = job(conn)
        except Exception as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def per_phone(db) -> Counter:
    return Counter(r[0] for r in db.execute("SELECT phone FROM dial_tasks WHERE status <> 'expired'").fetchall())


def test_the_cross_campaign_cap_holds_when_campaigns_claim_at_the_same_instant(db, redis_client, sqs, dial_queue):
    phones = us_numbers(400, seed=201)
    campaigns = [make(db, dial_queue, f"capped_{i}", phones, max_attempts_per_24h=1) for i in range(2)]
    together([lambda conn, c=c: dispatch(conn, c, run_context(c.id)) for c in campaigns])
    over = {p: n for p, n in per_phone(db).items() if n > 1}
    assert not over, f"{len(over)} phone(s) over the 24 h cap"
    assert sum(per_phone(db).values()) == len(phones)
    assert len(drain(sqs, dial_queue)) == len(phones)


def test_the_legal_cap_holds_when_campaigns_claim_at_the_same_instant(db, redis_client, sqs, dial_queue):
    phones = us_numbers(150, seed=202, area="305")
    campaigns = [make(db, dial_queue, f"florida_{i}", phones, region="FL") for i in range(5)]
    together([lambda conn, c=c: dispatch(conn, c, run_context(c.id)) for c in campaigns])
    counts = per_phone(db)
    assert max(counts.values()) == 3, "Florida allows 3 calls per phone per 24 h"
    assert set(counts) == set(phones)


def test_max_contacts_bounds_the_run_however_many_shards(db, redis_client, sqs, dial_queue):
    campaign = make(db, dial_queue, "limited", us_numbers(200, seed=203), dispatch_shards=4)
    run = run_context(campaign.id, max_contacts=50)
    results = together([lambda conn, s=s: dispatch(conn, campaign, run, shard=s, shard_count=4) for s in range(4)])
    assert sum(r.sent for r in results) == 50
    assert len(drain(sqs, dial_queue)) == 50
    # A top-up of the same run adds nobody.
    assert dispatch(db, campaign, run).sent == 0


def test_the_top_up_never_resends_what_a_live_shard_has_claimed(db, redis_client, sqs, dial_queue):
    from include.campaigns.calling_window import open_keys
    from include.campaigns.db import campaign_db

    campaign = make(db, dial_queue, "sharded", us_numbers(40, seed=204), dispatch_shards=2, max_in_flight=40)
    config = parse_config(campaign.raw_config)
    run = run_context(campaign.id)
    dispatch(db, campaign, run_context(campaign.id, dry_run=True))  # resolves the contacts' zones
    keys = [r[0] for r in db.execute("SELECT DISTINCT unnest(window_keys) FROM contacts").fetchall()]
    now = datetime.now(timezone.utc)
    with campaign_db() as shard_conn:
        # Shard 1 is alive: it holds its lock and has claimed rows it is about to send.
        assert shard_conn.execute("SELECT pg_try_advisory_lock(%s::int, 1)", (campaign.id,)).fetchone()[0]
        claimer = Claimer(
            shard_conn, campaign, config, run, open_keys(config.policy, keys, now), now, shard=1, shard_count=2
        )
        claimed = {r["dial_attempt_id"] for r in claimer.claim(10)}
        assert len(claimed) == 10
        dispatch(db, campaign, run)  # the sensor's top-up
        resent = {json.loads(m["Body"])["dial_attempt_id"] for m in drain(sqs, dial_queue)}
        assert not resent & claimed, f"{len(resent & claimed)} claimed row(s) of a live shard resent"
