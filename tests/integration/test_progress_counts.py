"""Contact counts by status stay exact across pokes and changes made elsewhere (migration 0018)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_blacklist, add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.progress import poke, status_counts
from include.campaigns.runs import RunContext
from tests.helpers import closed_zone, open_zone, us_numbers

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


def truth(db, campaign_id) -> dict[str, int]:
    rows = db.execute(
        "SELECT status, count(*) FROM contacts WHERE campaign_id = %s GROUP BY status", (campaign_id,)
    ).fetchall()
    return dict(rows)


def count_rows(db, campaign_id) -> int:
    return db.execute("SELECT count(*) FROM contact_status_deltas WHERE campaign_id = %s", (campaign_id,)).fetchone()[0]


def dial(db, outcome: str) -> None:
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at) "
        "SELECT dial_attempt_id, campaign_id, contact_id, phone, %s, now(), now() FROM dial_tasks "
        "WHERE status = 'sent'",
        (outcome,),
    )


@pytest.fixture
def campaign(db, dial_queue):
    def make(phones, slug="counts", zone=None, **kw):
        campaign_id = create_campaign(
            db,
            slug,
            config={
                "dial_queue": dial_queue,
                "skip_public_holidays": False,
                "calling_window": {"start": "08:00", "end": "21:00"},
            },
            **kw,
        )
        add_contacts(db, campaign_id, [{"phone": p, "timezone": zone or open_zone()} for p in phones])
        return campaign_id

    return make


def test_counts_stay_exact_across_pokes_that_change_nothing_and_pokes_that_do(
    db, redis_client, campaign, sqs, dial_queue
):
    phones = us_numbers(6, seed=70)
    campaign_id = campaign(phones, max_in_flight=3)
    run = run_ctx(campaign_id)

    first = poke(db, campaign_id, run)  # resolves and dispatches three
    assert first.counts == truth(db, campaign_id) == {"pending": 3, "in_flight": 3}
    idle = poke(db, campaign_id, run)  # nothing changed
    assert idle.counts == first.counts == truth(db, campaign_id)

    dial(db, "answered")  # results in: three completed, three more sent
    after = poke(db, campaign_id, run)
    assert after.ingested == 3
    assert after.counts == truth(db, campaign_id) == {"completed": 3, "in_flight": 3}
    assert poke(db, campaign_id, run).counts == after.counts

    recorded = [
        r[0]
        for r in db.execute("SELECT counts FROM campaign_progress WHERE campaign_id = %s ORDER BY id", (campaign_id,))
    ]
    assert recorded == [first.counts, idle.counts, after.counts, after.counts]


def test_counts_follow_changes_made_outside_the_poke(db, redis_client, campaign):
    phones = us_numbers(8, seed=71)
    campaign_id = campaign(phones[:5], zone=closed_zone())  # nothing can be sent: only others change them
    other = campaign(phones[5:], slug="other", zone=closed_zone())
    run = run_ctx(campaign_id)
    assert poke(db, campaign_id, run).counts == {"pending": 5}

    add_contacts(db, campaign_id, [{"phone": us_numbers(1, seed=72)[0], "timezone": closed_zone()}])
    assert poke(db, campaign_id, run).counts == truth(db, campaign_id) == {"pending": 6}

    db.execute("UPDATE contacts SET status = 'invalid' WHERE campaign_id = %s AND phone = %s", (campaign_id, phones[0]))
    assert status_counts(db, campaign_id) == truth(db, campaign_id) == {"pending": 5, "invalid": 1}

    add_blacklist(db, [phones[1]])  # marked by the poke's blacklist check
    assert poke(db, campaign_id, run).counts == truth(db, campaign_id) == {"pending": 4, "invalid": 1, "blacklisted": 1}

    db.execute("DELETE FROM contacts WHERE campaign_id = %s AND phone = %s", (campaign_id, phones[2]))
    assert status_counts(db, campaign_id) == truth(db, campaign_id) == {"pending": 3, "invalid": 1, "blacklisted": 1}

    # Another campaign's changes leave this one's count rows alone, and its own stay exact.
    before = count_rows(db, campaign_id)
    db.execute("UPDATE contacts SET status = 'invalid' WHERE campaign_id = %s", (other,))
    assert count_rows(db, campaign_id) == before
    assert status_counts(db, other) == truth(db, other) == {"invalid": 3}
    assert status_counts(db, campaign_id) == truth(db, campaign_id)


def test_a_count_does_not_see_a_writer_until_it_commits(db, campaign):
    from include.campaigns.db import campaign_db

    campaign_id = campaign(us_numbers(4, seed=73), zone=closed_zone())

    with campaign_db() as writer:
        with writer.transaction():
            writer.execute(
                "UPDATE contacts SET status = 'invalid' WHERE id = "
                "(SELECT min(id) FROM contacts WHERE campaign_id = %s)",
                (campaign_id,),
            )
            assert status_counts(db, campaign_id) == {"pending": 4}
            assert status_counts(writer, campaign_id) == {"pending": 3, "invalid": 1}
        assert status_counts(db, campaign_id) == truth(db, campaign_id) == {"pending": 3, "invalid": 1}


def test_a_rolled_back_change_leaves_the_counts_as_they_were(db, campaign):
    campaign_id = campaign(us_numbers(3, seed=74), zone=closed_zone())
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.execute("UPDATE contacts SET status = 'invalid' WHERE campaign_id = %s", (campaign_id,))
            raise RuntimeError("rolled back")
    assert status_counts(db, campaign_id) == truth(db, campaign_id) == {"pending": 3}


def test_folding_the_count_rows_keeps_the_counts(db, campaign):
    from include.campaigns.progress import FOLD_COUNT_ROWS_OVER

    campaign_id = campaign(us_numbers(2, seed=78), zone=closed_zone())
    for i in range(FOLD_COUNT_ROWS_OVER):
        db.execute(
            "UPDATE contacts SET status = %s WHERE campaign_id = %s",
            ("invalid" if i % 2 == 0 else "pending", campaign_id),
        )
    assert count_rows(db, campaign_id) > FOLD_COUNT_ROWS_OVER
    assert status_counts(db, campaign_id) == truth(db, campaign_id) == {"pending": 2}
    assert count_rows(db, campaign_id) == 1, "the rows are folded into one per status"
    assert status_counts(db, campaign_id) == {"pending": 2}


def test_truncating_contacts_forgets_every_count(db, campaign):
    campaign_id = campaign(us_numbers(2, seed=75), zone=closed_zone())
    assert status_counts(db, campaign_id) == {"pending": 2}
    db.execute("TRUNCATE contacts CASCADE")
    assert count_rows(db, campaign_id) == 0
    assert status_counts(db, campaign_id) == {}


def test_run_is_not_done_while_a_retry_falls_due(db, redis_client, campaign, sqs, dial_queue):
    """The retry-due count is read only when nothing is pending or in flight; then it decides."""
    [phone] = us_numbers(1, seed=76)
    campaign_id = campaign([phone])
    db.execute(
        'UPDATE campaigns SET config = config || \'{"retry_delays_s": {"busy": 3600}}\' WHERE id = %s', (campaign_id,)
    )
    run = run_ctx(campaign_id)
    assert poke(db, campaign_id, run).counts == {"in_flight": 1}
    dial(db, "busy")
    result = poke(db, campaign_id, run)
    assert result.counts == truth(db, campaign_id) == {"failed": 1}
    assert not result.done, "a retry falls due before the run ends"
    assert load_campaign(db, campaign_id).status != "completed"


def test_a_count_inside_a_callers_transaction_is_exact_and_folds_nothing(db, campaign):
    from include.campaigns.progress import FOLD_COUNT_ROWS_OVER

    campaign_id = campaign(us_numbers(2, seed=77), zone=closed_zone())
    for _ in range(FOLD_COUNT_ROWS_OVER):
        db.execute("UPDATE contacts SET status = 'pending' || '' WHERE campaign_id = %s", (campaign_id,))
        db.execute("UPDATE contacts SET status = 'invalid' WHERE campaign_id = %s", (campaign_id,))
    rows = count_rows(db, campaign_id)
    with db.transaction():
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert status_counts(db, campaign_id) == {"invalid": 2}
    assert count_rows(db, campaign_id) == rows
    assert status_counts(db, campaign_id) == {"invalid": 2}
    assert count_rows(db, campaign_id) == 1
