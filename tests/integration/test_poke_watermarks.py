"""What an idle poke may skip, and what it may never miss: the abandonment rate from kept counts
(exact, reading only the part of an hour its window starts in), and the blacklist checked against
each new entry once, however late the entry's transaction commits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.db import campaign_db, fetch_one, load_sql
from include.campaigns.resolution import resolve_contacts
from tests.helpers import open_zone, us_numbers

pytestmark = pytest.mark.integration

LIVE = ("answered", "converted", "opted_out", "abandoned")
OUTCOMES = (*LIVE, "voicemail", "busy", "no_answer", "failed", "machine")


def insert_records(db, campaign_id: int, rows: list[tuple[str, datetime]]) -> None:
    """Records as the dialer writes them, already applied: (outcome, started_at) each."""
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour, ingested_at) "
        "SELECT 'r-' || gen_random_uuid(), %(campaign_id)s, 0, '+12125550100', o, s, s, 0, 12, now() "
        "FROM unnest(%(outcomes)s::text[], %(starts)s::timestamptz[]) AS x (o, s)",
        {"campaign_id": campaign_id, "outcomes": [o for o, _ in rows], "starts": [s for _, s in rows]},
    )


def counted_directly(db, campaign_id: int, since: datetime) -> tuple[int, int]:
    return db.execute(
        "SELECT count(*) FILTER (WHERE outcome = 'abandoned'), "
        "count(*) FILTER (WHERE outcome IN ('answered', 'converted', 'opted_out', 'abandoned')) "
        "FROM call_records WHERE campaign_id = %s AND started_at >= %s",
        (campaign_id, since),
    ).fetchone()


def rate_counts(db, campaign_id: int, since: datetime) -> tuple[int, int]:
    row = fetch_one(db, "campaign_abandon_rate", {"campaign_id": campaign_id, "since": since})
    return row["abandoned"], row["live"]


def call_record_rows_read(db, campaign_id: int, since: datetime) -> int:
    """How many call_records rows the rate statement reads, from its plan as executed."""
    plan = db.execute(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + load_sql("campaign_abandon_rate"),
        {"campaign_id": campaign_id, "since": since},
    ).fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def walk(node) -> int:
        own = (
            node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
            if node.get("Relation Name") == "call_records"
            else 0
        )
        return own + sum(walk(child) for child in node.get("Plans", []))

    return int(walk(plan[0]["Plan"]))


def test_the_abandonment_rate_reads_only_the_records_of_the_hour_its_window_starts_in(db):
    campaign_id = create_campaign(db, "rate_bounded")
    now = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)
    # 30 days of calls, 20 an hour: 14,400 records, 4 in 9 a live answer.
    rows = [(OUTCOMES[(i * 7) % len(OUTCOMES)], now - timedelta(minutes=3 * i + 1)) for i in range(30 * 24 * 20)]
    insert_records(db, campaign_id, rows)
    db.execute("ANALYZE call_records")
    since = now - timedelta(days=30) + timedelta(minutes=17)  # inside an hour, not on its edge
    assert rate_counts(db, campaign_id, since) == counted_directly(db, campaign_id, since)
    assert call_record_rows_read(db, campaign_id, since) <= 20, "only the window's first, partial hour is counted"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.integers(0, 1), st.sampled_from(OUTCOMES), st.integers(0, 6 * 3600)), min_size=1, max_size=8
        ),
        min_size=1,
        max_size=4,
    ),
    corrections=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(OUTCOMES), st.integers(-7200, 7200)), max_size=4
    ),
    deletions=st.lists(st.integers(0, 40), max_size=3),
    fold_between=st.booleans(),
    since_s=st.integers(0, 6 * 3600),
)
def test_the_kept_abandonment_counts_equal_a_count_of_the_records_whatever_is_written(
    db, batches, corrections, deletions, fold_between, since_s
):
    db.execute("TRUNCATE call_records, campaigns RESTART IDENTITY CASCADE")
    ids = [create_campaign(db, "rate_a"), create_campaign(db, "rate_b")]
    base = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    for batch in batches:  # each batch is one statement, as a dialer writing several at once
        for which in (0, 1):
            rows = [(o, base - timedelta(seconds=s)) for w, o, s in batch if w == which]
            if rows:
                insert_records(db, ids[which], rows)
        if fold_between:
            for cid in ids:
                db.execute(load_sql("campaign_abandon_fold"), {"campaign_id": cid, "since": base - timedelta(days=1)})
    records = [r[0] for r in db.execute("SELECT id FROM call_records ORDER BY id").fetchall()]
    for index, outcome, shift in corrections:  # the dialer corrects an outcome, or a start time
        if records:
            db.execute(
                "UPDATE call_records SET outcome = %s, started_at = started_at + make_interval(secs => %s), "
                "campaign_id = CASE WHEN id %% 3 = 0 THEN %s ELSE campaign_id END WHERE id = %s",
                (outcome, shift, ids[1], records[index % len(records)]),
            )
    for index in deletions:  # a record quarantined by the ingest leaves call_records
        if records:
            db.execute("DELETE FROM call_records WHERE id = %s", (records[index % len(records)],))
    since = base - timedelta(seconds=since_s)
    for cid in ids:
        assert rate_counts(db, cid, since) == counted_directly(db, cid, since)


def test_the_abandonment_guard_reads_the_kept_counts_after_the_ingest(db):
    """The rate the guard measures moves with records as they are written, not once ingested."""
    from include.campaigns.progress import abandonment

    campaign_id = create_campaign(db, "rate_kept", status="active", config={"skip_public_holidays": False})
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(1, seed=611)])
    campaign = load_campaign(db, campaign_id)
    resolve_contacts(db, campaign)
    now = datetime.now(timezone.utc)
    insert_records(db, campaign_id, [("answered", now - timedelta(hours=h)) for h in range(96)])
    insert_records(db, campaign_id, [("abandoned", now - timedelta(minutes=5 * h)) for h in range(4)])
    insert_records(db, campaign_id, [("abandoned", now - timedelta(days=31))])
    measured = abandonment(db, campaign, now)
    assert (measured["abandoned"], measured["live_answers"], measured["exceeded"]) == (4, 100, True)


# The blacklist ---------------------------------------------------------------------------------


@pytest.fixture
def blacklist_campaign(db):
    campaign_id = create_campaign(db, "bl_watermark", status="active", config={"skip_public_holidays": False})
    phones = us_numbers(4, seed=612)
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in phones])
    resolve_contacts(db, load_campaign(db, campaign_id))
    return campaign_id, [r[0] for r in db.execute("SELECT phone FROM contacts ORDER BY id").fetchall()]


def mark(db, campaign_id: int) -> dict:
    """As dispatch checks: the probe, then the marking when it is due."""
    due = fetch_one(db, "contacts_mark_blacklisted_due", {"campaign_id": campaign_id})
    if not due["due"]:
        return {"marked": 0, "looked_up": 0}
    return fetch_one(db, "contacts_mark_blacklisted", {"campaign_id": campaign_id, "from_xid": due["from_xid"]})


def status_of(db, phone: str) -> str:
    return db.execute("SELECT status FROM contacts WHERE phone = %s", (phone,)).fetchone()[0]


def test_a_blacklist_entry_committed_long_after_its_transaction_began_still_marks_its_contacts(db, blacklist_campaign):
    campaign_id, phones = blacklist_campaign
    mark(db, campaign_id)
    with campaign_db() as importer:
        # A long import: its transaction began ten minutes ago, and commits after a check.
        importer.execute("BEGIN")
        importer.execute(
            "INSERT INTO blacklist (phone, reason, created_at) VALUES (%s, 'do_not_call', now() - interval '10 minutes')",
            (phones[0],),
        )
        mark(db, campaign_id)  # does not see the entry yet
        importer.execute("COMMIT")
    mark(db, campaign_id)
    assert status_of(db, phones[0]) == "blacklisted"


def test_a_check_with_no_new_entry_looks_up_no_contact_and_writes_nothing(db, blacklist_campaign):
    campaign_id, phones = blacklist_campaign
    db.execute("INSERT INTO blacklist (phone) VALUES (%s)", (phones[1],))
    first = mark(db, campaign_id)
    assert (first["marked"], first["looked_up"]) == (1, 1)
    stamp = db.execute("SELECT xmin::text FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()
    again = mark(db, campaign_id)
    assert (again["marked"], again["looked_up"]) == (0, 0)
    assert db.execute("SELECT xmin::text FROM campaigns WHERE id = %s", (campaign_id,)).fetchone() == stamp
    db.execute("INSERT INTO blacklist (phone, campaign_id) VALUES (%s, %s)", (phones[2], campaign_id))
    assert mark(db, campaign_id)["marked"] == 1 and status_of(db, phones[2]) == "blacklisted"


def test_a_contact_in_flight_when_its_number_is_blacklisted_is_marked_once_it_is_back(db, blacklist_campaign):
    campaign_id, phones = blacklist_campaign
    mark(db, campaign_id)
    db.execute("UPDATE contacts SET status = 'in_flight' WHERE phone = %s", (phones[3],))
    db.execute("INSERT INTO blacklist (phone) VALUES (%s)", (phones[3],))
    assert mark(db, campaign_id)["marked"] == 0  # in flight: its result decides first
    db.execute("UPDATE contacts SET status = 'failed' WHERE phone = %s", (phones[3],))  # a retry is due later
    mark(db, campaign_id)
    assert status_of(db, phones[3]) == "blacklisted"


def test_an_expired_or_other_campaigns_entry_marks_nobody(db, blacklist_campaign):
    campaign_id, phones = blacklist_campaign
    other = create_campaign(db, "bl_other")
    mark(db, campaign_id)
    db.execute("INSERT INTO blacklist (phone, campaign_id) VALUES (%s, %s)", (phones[0], other))
    db.execute("INSERT INTO blacklist (phone, expires_at) VALUES (%s, now() - interval '1 second')", (phones[1],))
    assert mark(db, campaign_id)["marked"] == 0
    assert {status_of(db, p) for p in phones[:2]} == {"pending"}


# The idle poke ------------------------------------------------------------------------------


def test_the_resend_reads_only_the_claimed_dial_tasks_whatever_the_hopper_holds(db):
    """Claimed-but-unsent tasks are found by an index range, not by reading every open task."""
    from include.campaigns.db import fetch_all
    from tests.integration.test_expiry_index import OPEN_TASKS, dial_task_rows_read

    campaign_id = create_campaign(db, "unsent_index", config={"skip_public_holidays": False})
    ids = add_contacts(
        db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(OPEN_TASKS, seed=91)]
    )
    db.execute(
        "UPDATE contacts SET status = 'in_flight', attempts = 1, dispatches = 1 WHERE campaign_id = %s", (campaign_id,)
    )
    # One task a dispatcher claimed and never marked sent; the rest of the hopper was sent.
    db.execute(
        "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, not_after) "
        "SELECT 'c' || c.id || '-1', c.campaign_id, c.id, c.phone, 1, 'run-1', "
        "       CASE WHEN c.id = %s THEN 'claimed' ELSE 'sent' END, now() + interval '1 hour' "
        "FROM contacts c WHERE c.campaign_id = %s",
        (ids[0], campaign_id),
    )
    db.execute("ANALYZE dial_tasks")
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned whole anyway
        before = dial_task_rows_read(db)
        unsent = fetch_all(
            db, "dial_tasks_unsent", {"campaign_id": campaign_id, "limit": 1000, "shard": 0, "shard_count": 1}
        )
        read = dial_task_rows_read(db) - before
    assert [r["contact_id"] for r in unsent] == [ids[0]]
    assert read < 10, f"the resend read {read} of {OPEN_TASKS} open dial tasks to find the one claimed"


def _campaign_with_a_full_hopper(db, dial_queue: str, slug: str, *, seed: int):
    """An active campaign of four contacts whose hopper of two is full after two pokes: from then
    on a poke has nothing to do unless something changes."""
    from include.campaigns.progress import poke
    from tests.helpers import run_context

    campaign_id = create_campaign(
        db,
        slug,
        status="active",
        max_in_flight=2,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(4, seed=seed)])
    run = run_context(campaign_id)
    assert poke(db, campaign_id, run).dispatched == 2  # the hopper is full from here on
    poke(db, campaign_id, run)
    return campaign_id, run


def test_an_idle_poke_leaves_the_campaign_row_as_it_was(db, redis_client, dial_queue):
    from include.campaigns.progress import poke

    campaign_id, run = _campaign_with_a_full_hopper(db, dial_queue, "idle_row", seed=613)
    version = db.execute("SELECT xmin::text FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()
    idle = poke(db, campaign_id, run)
    assert (idle.dispatched, idle.ingested, idle.expired_tasks) == (0, 0, 0)
    assert db.execute("SELECT xmin::text FROM campaigns WHERE id = %s", (campaign_id,)).fetchone() == version


def test_a_new_blacklist_entry_marks_its_waiting_contact_at_the_next_idle_poke(db, redis_client, dial_queue):
    from include.campaigns.progress import poke

    campaign_id, run = _campaign_with_a_full_hopper(db, dial_queue, "idle_mark", seed=614)
    waiting = db.execute(
        "SELECT phone FROM contacts WHERE campaign_id = %s AND status = 'pending' ORDER BY id", (campaign_id,)
    ).fetchall()
    db.execute("INSERT INTO blacklist (phone) VALUES (%s)", (waiting[0][0],))
    result = poke(db, campaign_id, run)
    assert result.dispatched == 0 and result.counts.get("blacklisted") == 1
    assert status_of(db, waiting[0][0]) == "blacklisted" and status_of(db, waiting[1][0]) == "pending"


@pytest.mark.parametrize(
    "revive",
    [
        # An import of a number whose entry had ended (blacklist_incoming_merge.sql).
        "UPDATE blacklist SET expires_at = NULL, created_at = now() WHERE phone = %(phone)s",
        # An opt-out of a number whose global entry had ended (blacklist_opt_outs, migration 0010).
        "SELECT blacklist_opt_outs(ARRAY[%(phone)s])",
    ],
    ids=["import", "opt_out"],
)
def test_a_blacklist_entry_that_had_ended_and_is_revived_marks_its_contacts_at_the_next_check(
    db, blacklist_campaign, revive
):
    campaign_id, phones = blacklist_campaign
    db.execute("INSERT INTO blacklist (phone, expires_at) VALUES (%s, now() - interval '1 day')", (phones[2],))
    mark(db, campaign_id)
    assert status_of(db, phones[2]) == "pending"  # the entry had ended
    db.execute(revive, {"phone": phones[2]})
    mark(db, campaign_id)
    assert status_of(db, phones[2]) == "blacklisted"
