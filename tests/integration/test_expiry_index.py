"""The expiry reads only the dial tasks past their cut-off, whatever the hopper holds."""

from __future__ import annotations

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.progress import expire_tasks
from tests.helpers import closed_zone, us_numbers

pytestmark = pytest.mark.integration

OPEN_TASKS = 60


def dial_task_rows_read(conn) -> int:
    row = conn.execute(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relname = 'dial_tasks'"
    ).fetchone()
    return row[0] if row else 0


def test_the_expiry_reads_only_the_open_dial_tasks_past_their_cut_off(db):
    campaign_id = create_campaign(
        db, "expiry_index", config={"skip_public_holidays": False, "expiry_grace_s": 60, "max_call_duration_s": 600}
    )
    ids = add_contacts(
        db, campaign_id, [{"phone": p, "timezone": closed_zone()} for p in us_numbers(OPEN_TASKS, seed=90)]
    )
    db.execute(
        "UPDATE contacts SET status = 'in_flight', attempts = 1, dispatches = 1 WHERE campaign_id = %s", (campaign_id,)
    )
    # One task whose call cannot be going on any more; the rest of the hopper still may ring.
    db.execute(
        "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, not_after) "
        "SELECT 'c' || c.id || '-1', c.campaign_id, c.id, c.phone, 1, 'run-1', 'sent', "
        "       CASE WHEN c.id = %s THEN now() - interval '661 seconds' ELSE now() + interval '1 hour' END "
        "FROM contacts c WHERE c.campaign_id = %s",
        (ids[0], campaign_id),
    )
    db.execute("ANALYZE dial_tasks")
    campaign = load_campaign(db, campaign_id)
    with db.transaction():
        db.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned whole anyway
        before = dial_task_rows_read(db)
        assert expire_tasks(db, campaign) == 1
        read = dial_task_rows_read(db) - before
    assert read < 10, f"the expiry read {read} of {OPEN_TASKS} open dial tasks to find the one past its cut-off"
    assert db.execute("SELECT status FROM contacts WHERE id = %s", (ids[0],)).fetchone()[0] == "pending"
    assert db.execute("SELECT count(*) FROM dial_tasks WHERE status = 'sent'").fetchone()[0] == OPEN_TASKS - 1
