"""The dial-safety promises tried the way a careless operator, a buggy dialer and real timing
would try them, each against the real embedded services (PostgreSQL, Redis, SQS)."""

from __future__ import annotations

import json

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import expire_tasks, ingest
from tests.helpers import open_zone, run_context, together, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


def run_ctx(campaign_id: int, run_id: str = "adv"):
    return run_context(campaign_id, run_id)


def new_campaign(db, dial_queue, phones: list[str], slug: str = "adv", **config) -> Campaign:
    zone = open_zone()
    campaign_id = create_campaign(
        db,
        slug,
        max_in_flight=1000,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
            **config,
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
    return load_campaign(db, campaign_id)


def national(e164: str) -> str:
    """A US number as an operator types it."""
    return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"


def sent(sqs, dial_queue) -> list[dict]:
    return [json.loads(m["Body"]) for m in drain(sqs, dial_queue)]


class FailingSQS:
    """An SQS that is down: the claim commits, the send fails, the rows stay claimed."""

    def send_message_batch(self, **kwargs):
        raise ConnectionError("SQS is down")


def test_a_number_an_operator_changes_after_resolution_is_checked_again_before_it_is_dialed(
    db, redis_client, sqs, dial_queue
):
    """A contact's number rewritten by hand (in any shape) after it was resolved is normalized and
    placed in time again before any dial: a blacklisted number typed the way people type it is
    never dialed, and no dial task carries a number that is not E.164."""
    from include.campaigns.phones import E164_SHAPE
    from include.campaigns.resolution import resolve_contacts

    first, second, listed, moved = us_numbers(4, seed=913)
    campaign = new_campaign(db, dial_queue, [first, second])
    resolve_contacts(db, campaign)
    db.execute("INSERT INTO blacklist (phone, reason) VALUES (%s, 'do_not_call')", (listed,))
    db.execute("UPDATE contacts SET phone = %s WHERE phone = %s", (national(listed), first))
    db.execute("UPDATE contacts SET phone = %s WHERE phone = %s", (national(moved), second))

    dispatch(db, load_campaign(db, campaign.id), run_ctx(campaign.id))

    phones = [body["phone"] for body in sent(sqs, dial_queue)]
    assert phones == [moved]
    assert all(E164_SHAPE.match(p) for p in phones)
    status = dict(db.execute("SELECT phone, status FROM contacts").fetchall())
    assert status == {listed: "blacklisted", moved: "in_flight"}


def test_a_claimed_dial_task_whose_result_has_come_is_never_sent_again(db, redis_client, sqs, dial_queue):
    """A send that reached the dialer but was not marked sent is resent after a crash; once the
    dialer has written that attempt's result, the attempt happened and is not sent again."""
    phones = us_numbers(3, seed=914)
    campaign = new_campaign(db, dial_queue, phones)
    with pytest.raises(ConnectionError):
        dispatch(db, campaign, run_ctx(campaign.id), client=FailingSQS(), queue_url=dial_queue)
    claimed = db.execute(
        "SELECT dial_attempt_id, campaign_id, contact_id, phone FROM dial_tasks "
        "WHERE status = 'claimed' ORDER BY dial_attempt_id"
    ).fetchall()
    assert len(claimed) == 3
    called = claimed[0]
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour) VALUES (%s, %s, %s, %s, 'converted', now(), now(), 30, 13)",
        called,
    )

    result = dispatch(db, load_campaign(db, campaign.id), run_ctx(campaign.id))

    assert sorted(body["dial_attempt_id"] for body in sent(sqs, dial_queue)) == [c[0] for c in claimed[1:]]
    assert result.resent == 2
    ingest(db, campaign)
    assert db.execute("SELECT status FROM contacts WHERE id = %s", (called[2],)).fetchone()[0] == "completed"


def test_an_opt_out_the_dialer_writes_as_an_update_of_its_record_blacklists_the_number(
    db, redis_client, sqs, dial_queue
):
    """A dialer that writes a record when the call ends and corrects its outcome to opted_out a
    moment later (the IVR's last key) still opts the number out at once, in every campaign."""
    phone, other = us_numbers(2, seed=915)
    first = new_campaign(db, dial_queue, [phone], slug="adv_first")
    dispatch(db, first, run_ctx(first.id))
    (body,) = sent(sqs, dial_queue)
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour) VALUES (%s, %s, %s, %s, 'answered', now(), now(), 30, 13)",
        (body["dial_attempt_id"], body["campaign_id"], body["contact_id"], body["phone"]),
    )
    ingest(db, first)
    db.execute("UPDATE call_records SET outcome = 'opted_out' WHERE dial_attempt_id = %s", (body["dial_attempt_id"],))

    assert (
        db.execute("SELECT count(*) FROM blacklist WHERE phone = %s AND campaign_id IS NULL", (phone,)).fetchone()[0]
        == 1
    )
    second = new_campaign(db, dial_queue, [phone, other], slug="adv_second")
    dispatch(db, second, run_ctx(second.id))
    assert [b["phone"] for b in sent(sqs, dial_queue)] == [other]


def test_a_blacklist_entry_written_by_hand_in_another_shape_is_refused(db):
    import psycopg

    for shape in ("2125550123", "+1 212-555-0123", "(212) 555-0123", "+12125550123 ", "tel:+12125550123"):
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute("INSERT INTO blacklist (phone, reason) VALUES (%s, 'do_not_call')", (shape,))
    assert db.execute("SELECT count(*) FROM blacklist").fetchone()[0] == 0


def test_a_late_result_not_yet_ingested_counts_against_the_24h_cap_of_every_campaign(db, redis_client, sqs, dial_queue):
    """A dial task expired (no result in time), then its result came: that call happened. Until
    it is ingested, another campaign's claim of the same number must count it, or the number is
    dialed over the cap."""
    shared, other = us_numbers(2, seed=916)
    first = new_campaign(db, dial_queue, [shared], slug="adv_cap_a", max_attempts_per_24h=1)
    dispatch(db, first, run_ctx(first.id))
    (body,) = sent(sqs, dial_queue)
    db.execute("UPDATE dial_tasks SET not_after = now() - interval '3 hours'")
    assert expire_tasks(db, first) == 1
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour) VALUES (%s, %s, %s, %s, 'busy', now(), now(), 30, 13)",
        (body["dial_attempt_id"], body["campaign_id"], body["contact_id"], body["phone"]),
    )

    second = new_campaign(db, dial_queue, [shared, other], slug="adv_cap_b", max_attempts_per_24h=1)
    dispatch(db, second, run_ctx(second.id))

    assert [b["phone"] for b in sent(sqs, dial_queue)] == [other]


def test_a_legal_cap_holds_for_a_number_two_campaigns_place_in_different_jurisdictions(
    db, redis_client, sqs, dial_queue
):
    """A New York number whose person lives in Florida (campaign A has the address) may be called 3
    times in 24 h, whoever calls: campaign B, which knows only the number, must count A's calls
    against Florida's cap."""
    phone, other = us_numbers(2, seed=917)
    zone = open_zone()
    config = {
        "dial_queue": dial_queue,
        "skip_public_holidays": False,
        "calling_window": {"start": "08:00", "end": "21:00"},
    }
    in_florida = create_campaign(db, "adv_fl", max_in_flight=100, config=config)
    add_contacts(db, in_florida, [{"phone": phone, "timezone": zone, "region": "FL"}])
    elsewhere = create_campaign(db, "adv_ny", max_in_flight=100, config=config)
    add_contacts(db, elsewhere, [{"phone": phone, "timezone": zone}, {"phone": other, "timezone": zone}])
    for round_ in range(3):
        dispatch(db, load_campaign(db, in_florida), run_ctx(in_florida, f"fl{round_}"))
        db.execute("UPDATE dial_tasks SET status = 'completed', outcome = 'busy' WHERE status = 'sent'")
        db.execute(
            "UPDATE contacts SET status = 'failed', next_attempt_at = NULL WHERE campaign_id = %s", (in_florida,)
        )
    assert [b["phone"] for b in sent(sqs, dial_queue)] == [phone] * 3

    dispatch(db, load_campaign(db, elsewhere), run_ctx(elsewhere))

    assert [b["phone"] for b in sent(sqs, dial_queue)] == [other]


def test_a_result_the_dialer_writes_twice_at_once_is_kept_and_applied_once(db, redis_client, sqs, dial_queue):
    """Two writers of one attempt's result (a dialer retrying a timed-out INSERT): one record is
    kept, the other refused, and the contact moves once."""
    import psycopg

    (phone,) = us_numbers(1, seed=918)
    campaign = new_campaign(db, dial_queue, [phone])
    dispatch(db, campaign, run_ctx(campaign.id))
    (body,) = sent(sqs, dial_queue)
    row = (body["dial_attempt_id"], body["campaign_id"], body["contact_id"], body["phone"])

    def write(outcome):
        return lambda conn: conn.execute(
            "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
            "ended_at, duration_s, local_hour) VALUES (%s, %s, %s, %s, %s, now(), now(), 30, 13)",
            (*row, outcome),
        )

    errors = together(write("busy"), write("busy"))

    assert [type(e) for e in errors] == [psycopg.errors.UniqueViolation]
    ingest(db, campaign)
    assert db.execute("SELECT status, attempts FROM contacts").fetchone() == ("failed", 1)
