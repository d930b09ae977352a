"""The claim statement's cost per contact must not grow with the size of the lists it checks."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import create_campaign
from include.campaigns.calling_window import open_keys
from include.campaigns.campaign import load_campaign
from include.campaigns.claim import Claimer
from include.campaigns.db import load_sql
from include.campaigns.resolution import resolve_contacts
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers

pytestmark = pytest.mark.integration

CHUNK = 1000
BLACKLIST = 60_000  # a do-not-call extract is far larger than any claim chunk


def _claim_plan(db, analyze: bool) -> str:
    campaign_id = create_campaign(
        db,
        "claim_blacklist_probe",
        max_in_flight=10**6,
        config={"skip_public_holidays": False, "calling_window": {"start": "08:00", "end": "21:00"}},
    )
    zone = open_zone()
    with db.cursor() as cur, cur.copy("COPY contacts (campaign_id, phone, timezone) FROM STDIN") as copy:
        for phone in us_numbers(CHUNK, seed=21, area="312"):
            copy.write_row((campaign_id, phone, zone))
    # Numbers of other people, listed in the global blacklist.
    db.execute(
        "INSERT INTO blacklist (phone) SELECT '+1646' || lpad(g::text, 7, '0') FROM generate_series(1, %s) g",
        (BLACKLIST,),
    )
    campaign = load_campaign(db, campaign_id)
    resolve_contacts(db, campaign)
    db.execute("ANALYZE contacts")
    db.execute("ANALYZE blacklist")
    now = datetime.now(timezone.utc)
    run = RunContext(campaign_id=campaign_id, run_id="r1", run_start=now, run_end=now + timedelta(hours=2), live=True)
    keys = [
        r[0] for r in db.execute("SELECT window_key FROM campaign_window_keys WHERE campaign_id = %s", (campaign_id,))
    ]
    claimer = Claimer(db, campaign, campaign.config, run, open_keys(campaign.config.policy, keys, now), now, page=CHUNK)
    ids = [key[3] for key in itertools.islice(claimer._next, CHUNK)]
    assert len(ids) == CHUNK
    with db.transaction(force_rollback=True):
        return "\n".join(
            r[0]
            for r in db.execute(
                f"EXPLAIN {'(ANALYZE) ' if analyze else ''}" + load_sql("dial_tasks_claim"),
                {**claimer.rules, **claimer.task, "ids": ids},
                prepare=False,
            )
        )


def test_the_claim_probes_the_blacklist_by_number_and_never_reads_all_of_it(db):
    """A chunk's contacts are checked against the blacklist one index probe each: a plan that reads
    the whole list (a hash of every entry) costs each chunk as much as the list is long."""
    plan = _claim_plan(db, analyze=True)
    assert not re.search(r"Seq Scan on blacklist", plan), plan
    claimed = re.search(r"Insert on dial_tasks .*actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)
    assert claimed and int(claimed[1].split(".")[0]) == CHUNK, plan
