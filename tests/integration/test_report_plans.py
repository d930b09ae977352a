"""The report's passes over a campaign, against the real PostgreSQL: the contacts are grouped in
memory, whatever the campaign's size and however many distinct retry times they have, and the
run's calls are read once for every figure drawn from them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.db import load_sql
from include.campaigns.reporting import build_report, skips, skips_params
from include.campaigns.runs import RunContext

pytestmark = pytest.mark.integration

CONTACTS = 100_000
KEYS = ["America/New_York|US-NY", "America/Chicago|US-IL", "Europe/London|GB"]


@pytest.fixture
def waiting_campaign(db):
    """A large campaign whose contacts all wait for a retry, each due at its own instant."""
    campaign_id = create_campaign(db, "plans")
    db.execute(
        """
        INSERT INTO contacts (campaign_id, phone, status, attempts, last_outcome, next_attempt_at,
                              jurisdiction, window_keys)
        SELECT %(campaign_id)s, '+1212' || lpad(g::text, 7, '0'), 'failed', 1 + g %% 3,
               (ARRAY['busy', 'no_answer', 'abandoned'])[1 + g %% 3],
               now() + make_interval(secs => g - %(half)s),
               split_part((%(keys)s::text[])[1 + g %% 3], '|', 2), ARRAY[(%(keys)s::text[])[1 + g %% 3]]
        FROM generate_series(1, %(n)s) AS g""",
        {"campaign_id": campaign_id, "n": CONTACTS, "half": CONTACTS // 2, "keys": KEYS},
    )
    db.execute(
        "INSERT INTO campaign_window_keys (campaign_id, window_key) SELECT %s, unnest(%s::text[])", (campaign_id, KEYS)
    )
    db.execute("ANALYZE contacts")
    return campaign_id


def _plan(db, name: str, params: dict) -> dict:
    row = db.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + load_sql(name), params).fetchone()
    return row[0][0]


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def test_the_skip_preview_groups_a_large_campaign_in_memory(db, waiting_campaign):
    at = datetime.now(timezone.utc)
    plan = _plan(db, "contacts_skips", skips_params(db, load_campaign(db, waiting_campaign), at))

    spilled = [n["Node Type"] for n in _nodes(plan["Plan"]) if n.get("Temp Written Blocks")]
    assert spilled == [], "the contacts were sorted or hashed on disk"
    sorted_contacts = [
        n
        for n in _nodes(plan["Plan"])
        if n["Node Type"] in ("Sort", "Incremental Sort") and n.get("Actual Rows", 0) * n.get("Actual Loops", 1) > 1000
    ]
    assert sorted_contacts == [], "the contacts were sorted one by one to be grouped"
    # Every contact is counted once: due now (eligible, or kept by its window), or waiting.
    preview = skips(db, load_campaign(db, waiting_campaign), at)
    assert preview["eligible"] + preview["skipped"] == CONTACTS
    assert set(preview["skipped_by_reason"]) <= {"lockout", "retry_later", "legal_hours", "outside_window"}


def _task_and_record(db, campaign_id, contact_id, phone, n, *, run_id, outcome, local_hour, duration_s=30):
    claimed = datetime.now(timezone.utc) - timedelta(minutes=30)
    db.execute(
        "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, not_after, "
        "claimed_at, sent_at) VALUES (%s, %s, %s, %s, 1, %s, 'completed', %s, %s, %s)",
        (
            f"c{campaign_id}-{contact_id}-{n}",
            campaign_id,
            contact_id,
            phone,
            run_id,
            claimed + timedelta(hours=1),
            claimed,
            claimed,
        ),
    )
    if outcome is not None:
        db.execute(
            "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at, "
            "duration_s, local_hour) VALUES (%s, %s, %s, %s, %s, '2026-07-01T12:30:00Z', '2026-07-01T12:31:00Z', %s, %s)",
            (f"c{campaign_id}-{contact_id}-{n}", campaign_id, contact_id, phone, outcome, duration_s, local_hour),
        )


def test_the_run_s_calls_are_counted_by_outcome_and_by_the_called_party_s_hour(db):
    campaign_id = create_campaign(db, "calls")
    phones = ["+12125550001", "+12125550002", "+12125550003", "+12125550004"]
    ids = [
        db.execute(
            "INSERT INTO contacts (campaign_id, phone, status, timezones) VALUES (%s, %s, 'completed', %s) RETURNING id",
            (campaign_id, phone, ["America/New_York"]),
        ).fetchone()[0]
        for phone in phones
    ]
    run = "manual__calls"
    _task_and_record(db, campaign_id, ids[0], phones[0], 1, run_id=run, outcome="busy", local_hour=9, duration_s=0)
    _task_and_record(db, campaign_id, ids[0], phones[0], 2, run_id=run, outcome="answered", local_hour=10)
    _task_and_record(
        db, campaign_id, ids[1], phones[1], 1, run_id=run, outcome="converted", local_hour=10, duration_s=90
    )
    # No local hour from the dialer: 12:30 UTC is 8 in New York in July.
    _task_and_record(db, campaign_id, ids[2], phones[2], 1, run_id=run, outcome="opted_out", local_hour=None)
    _task_and_record(db, campaign_id, ids[3], phones[3], 1, run_id=run, outcome=None, local_hour=None)  # no result yet
    _task_and_record(db, campaign_id, ids[3], phones[3], 2, run_id="another_run", outcome="answered", local_hour=11)
    now = datetime.now(timezone.utc)
    report = build_report(
        db,
        campaign_id,
        RunContext(campaign_id=campaign_id, run_id=run, run_start=now - timedelta(hours=1), run_end=now, live=True),
        "completed",
        None,
    )

    assert {k: report["funnel"][k] for k in ("dispatched", "dialed", "answered", "converted")} == {
        "dispatched": 4,
        "dialed": 3,
        "answered": 3,
        "converted": 1,
    }
    assert report["calls"] == {
        "dial_tasks": 5,
        "dialed": 4,
        "answered": 3,
        "by_outcome": {
            "answered": {"calls": 1, "talk_s": 30},
            "busy": {"calls": 1, "talk_s": 0},
            "converted": {"calls": 1, "talk_s": 90},
            "opted_out": {"calls": 1, "talk_s": 30},
        },
    }
    assert report["rates"] == {"asr": 0.75, "acd_s": 50.0, "conversion_rate": 0.3333, "opt_outs": 1}
    by_hour = {h["hour"]: (h["dialed"], h["answered"]) for h in report["answer_rate_by_local_hour"] if h["dialed"]}
    assert by_hour == {8: (1, 1), 9: (1, 0), 10: (2, 2)}
