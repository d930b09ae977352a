"""The claim statement's cost follows what it claims, never the campaign's size, whatever plan the
statistics lead PostgreSQL to (a campaign loaded moments ago has none yet)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.calling_window import open_keys
from include.campaigns.campaign import load_campaign
from include.campaigns.claim import Claimer
from include.campaigns.db import fetch_all, load_sql
from include.campaigns.resolution import resolve_contacts
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers

pytestmark = pytest.mark.integration


def contacts_read(plan: dict) -> list[int]:
    """Rows each scan of contacts in an EXPLAIN (ANALYZE, FORMAT JSON) plan returned, over all its loops."""
    found = []
    nodes = [plan["Plan"]]
    while nodes:
        node = nodes.pop()
        if node.get("Relation Name") == "contacts" and "Scan" in node["Node Type"]:
            found.append(int(node["Actual Rows"] * node["Actual Loops"]))
        nodes += node.get("Plans", [])
    return found


def test_a_claim_reads_only_the_contacts_it_picks_even_when_a_join_would_read_the_campaign(db, redis_client):
    campaign_id = create_campaign(
        db,
        "claim_plan",
        max_in_flight=10**6,
        config={
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
            "max_attempts_per_24h": 2,
        },
    )
    zone = open_zone()
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in us_numbers(2000, seed=41)])
    campaign = load_campaign(db, campaign_id)
    resolve_contacts(db, campaign)
    config = campaign.config
    now = datetime.now(timezone.utc)
    run = RunContext(campaign_id=campaign_id, run_id="plan", run_start=now, run_end=now + timedelta(hours=1), live=True)
    keys = [r["window_key"] for r in fetch_all(db, "campaign_window_keys", {"campaign_id": campaign_id})]
    with db.transaction(force_rollback=True):
        claimer = Claimer(db, campaign, config, run, open_keys(config.policy, keys, now), now, page=100)
        ids = [key[3] for key in itertools.islice(claimer._next, 20)]
        # What stale or missing statistics lead to: the planner's preference for a hash join
        # over the campaign's contacts rather than 20 primary-key lookups.
        db.execute("SET LOCAL enable_nestloop = off")
        raw = db.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + load_sql("dial_tasks_claim"),
            {**claimer.rules, **claimer.task, "ids": ids},
            prepare=False,
        ).fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    assert len(ids) == 20
    assert max(contacts_read(plan)) <= len(ids), contacts_read(plan)


def test_deleting_a_contact_deletes_its_dial_tasks(db, redis_client, dial_queue):
    """A dial task has no foreign key to its contact (the claim holds the contact's row lock when
    it writes one); deleting the contact still deletes its dial tasks."""
    from include.campaigns.dispatch import dispatch
    from tests.helpers import run_context

    campaign_id = create_campaign(
        db,
        "claim_delete",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    ids = add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(3, seed=42)])
    assert dispatch(db, load_campaign(db, campaign_id), run_context(campaign_id)).sent == 3
    db.execute("DELETE FROM contacts WHERE id = %s", (ids[0],))
    left = {r[0] for r in db.execute("SELECT contact_id FROM dial_tasks").fetchall()}
    assert left == set(ids[1:])
