"""How the report's large-campaign statements run, against the real PostgreSQL: each pass over a
campaign's contacts groups them in memory, whatever the campaign's size and however many distinct
retry times its contacts have."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dev.seed import create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.db import load_sql
from include.campaigns.reporting import skips, skips_params

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
