"""The contact counts by status are kept by the statements that move contacts, so reading them
never recounts a campaign, and they equal a full recount in every snapshot, whatever runs at once."""

from __future__ import annotations

import random
import threading
import time

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.db import campaign_db
from include.campaigns.progress import poke, status_counts
from tests.helpers import closed_zone, open_zone, run_context, us_numbers

pytestmark = pytest.mark.integration


def truth(conn, campaign_id) -> dict[str, int]:
    return dict(
        conn.execute(
            "SELECT status, count(*) FROM contacts WHERE campaign_id = %s GROUP BY status", (campaign_id,)
        ).fetchall()
    )


def contact_rows_read(conn) -> int:
    """Rows of contacts this transaction has read so far, by any scan."""
    row = conn.execute(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relname = 'contacts'"
    ).fetchone()
    return row[0] if row else 0


def test_a_count_after_changes_reads_no_contact(db):
    campaign_id = create_campaign(db, "no_recount", config={"skip_public_holidays": False})
    phones = us_numbers(40, seed=80)
    add_contacts(db, campaign_id, [{"phone": p, "timezone": closed_zone()} for p in phones])
    db.execute("UPDATE contacts SET status = 'invalid' WHERE campaign_id = %s AND id %% 4 = 0", (campaign_id,))
    db.execute("DELETE FROM contacts WHERE campaign_id = %s AND id %% 5 = 0", (campaign_id,))
    expected = truth(db, campaign_id)
    with db.transaction():
        before = contact_rows_read(db)
        counts = status_counts(db, campaign_id)
        read = contact_rows_read(db) - before
    assert counts == expected
    assert read == 0, f"the count read {read} contact rows: it recounted the campaign"


def test_a_writer_never_waits_for_a_count(db):
    """Counting takes no lock a writer of the campaign's contacts could wait on."""
    campaign_id = create_campaign(db, "no_wait", config={"skip_public_holidays": False})
    add_contacts(db, campaign_id, [{"phone": p, "timezone": closed_zone()} for p in us_numbers(3, seed=81)])
    with db.transaction():
        assert status_counts(db, campaign_id) == {"pending": 3}
        with campaign_db() as writer:
            writer.execute("SET lock_timeout = '2s'")
            writer.execute("UPDATE contacts SET status = 'invalid' WHERE campaign_id = %s", (campaign_id,))
        assert status_counts(db, campaign_id) == {"invalid": 3}  # read committed: the writer's commit is seen
    assert status_counts(db, campaign_id) == truth(db, campaign_id) == {"invalid": 3}


DIAL_OUTCOMES = ["answered", "converted", "busy", "no_answer", "voicemail", "failed", "opted_out"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_equal_a_full_recount_under_concurrent_claims_and_results(db, redis_client, dial_queue, seed):
    """Pokes claiming and ingesting in two sessions, a dialer writing results, expiries, an operator
    adding, invalidating and deleting contacts: in every snapshot the kept counts are the recount."""
    rng = random.Random(seed)
    campaign_id = create_campaign(
        db,
        f"churn_{seed}",
        max_in_flight=25,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "max_attempts": 5,
            "calling_window": {"start": "00:00", "end": "23:30"},
            "retry_delays_s": {"busy": 0, "no_answer": 0, "voicemail": 0, "failed": 0},
        },
    )
    pool = us_numbers(400, seed=100 + seed)
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in pool[:120]])
    spare = pool[120:]
    run = run_context(campaign_id)
    stop = threading.Event()
    errors: list[BaseException] = []

    deadlocks: list[str] = []

    def loop(step):
        def body():
            import psycopg

            try:
                with campaign_db() as conn:
                    while not stop.is_set():
                        try:
                            step(conn)
                        except psycopg.errors.DeadlockDetected:
                            # Two pokers of one campaign, a dialer and an operator at once can lock
                            # contacts in opposite orders; PostgreSQL rolls one statement back whole,
                            # which is what a count must survive. The task or the dialer retries it.
                            deadlocks.append(step.__name__)
            except BaseException as exc:  # surfaced in the test's thread
                errors.append(exc)
                stop.set()

        return threading.Thread(target=body)

    def poker(conn):
        poke(conn, campaign_id, run)

    def dialer(conn):
        conn.execute(
            "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at) "
            "SELECT dial_attempt_id, campaign_id, contact_id, phone, (%s::text[])[1 + floor(random() * %s)::int], "
            "now(), now() FROM dial_tasks t WHERE campaign_id = %s AND status = 'sent' AND random() < 0.5 "
            "AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id) "
            "ON CONFLICT DO NOTHING",
            (DIAL_OUTCOMES, len(DIAL_OUTCOMES), campaign_id),
        )
        time.sleep(0.01)

    def operator(conn):
        what = rng.random()
        if what < 0.3 and spare:
            add_contacts(
                conn, campaign_id, [{"phone": spare.pop(), "timezone": open_zone()} for _ in range(3) if spare]
            )
        elif what < 0.5:
            conn.execute(
                "UPDATE contacts SET status = 'invalid' WHERE id = (SELECT id FROM contacts "
                "WHERE campaign_id = %s AND status = 'pending' ORDER BY random() LIMIT 1)",
                (campaign_id,),
            )
        elif what < 0.65:
            conn.execute(
                "DELETE FROM contacts WHERE id = (SELECT id FROM contacts WHERE campaign_id = %s "
                "ORDER BY random() LIMIT 1)",
                (campaign_id,),
            )
        elif what < 0.8:  # a dial task the dialer dropped: the next poke expires it
            conn.execute(
                "UPDATE dial_tasks SET not_after = now() - interval '1 day' WHERE dial_attempt_id = "
                "(SELECT dial_attempt_id FROM dial_tasks WHERE campaign_id = %s AND status = 'sent' "
                "ORDER BY random() LIMIT 1)",
                (campaign_id,),
            )
        else:  # an update that moves no contact between statuses
            conn.execute(
                "UPDATE contacts SET priority = priority + 1 WHERE campaign_id = %s AND id %% 7 = 0", (campaign_id,)
            )
        time.sleep(0.005)

    threads = [loop(poker), loop(poker), loop(dialer), loop(operator)]
    for t in threads:
        t.start()
    snapshots = 0
    deadline = time.monotonic() + 6
    try:
        with campaign_db() as checker:
            while time.monotonic() < deadline and not stop.is_set():
                with checker.transaction():
                    checker.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    kept, recount = status_counts(checker, campaign_id), truth(checker, campaign_id)
                assert kept == recount, f"snapshot {snapshots}"
                snapshots += 1
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert snapshots > 10
    moved = truth(db, campaign_id)
    assert status_counts(db, campaign_id) == moved
    assert len(moved) >= 3, f"the churn moved too few contacts to prove anything: {moved}"
