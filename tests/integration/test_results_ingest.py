"""Results from the dialer, whenever they come: late, for a finished run, or not matching their dial task."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import ingest, poke
from tests.helpers import open_zone, run_context, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


@pytest.fixture
def make_campaign(db, dial_queue):
    def make(slug="results", phones=(), **config):
        config = {
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
            **config,
        }
        campaign_id = create_campaign(db, slug, config=config)
        zone = open_zone()
        add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
        return load_campaign(db, campaign_id)

    return make


def sent(sqs, queue_url) -> list[dict]:
    return [json.loads(m["Body"]) for m in drain(sqs, queue_url)]


def task_of(db, campaign_id: int) -> dict:
    row = db.execute(
        "SELECT dial_attempt_id, contact_id, phone, status FROM dial_tasks WHERE campaign_id = %s "
        "ORDER BY claimed_at DESC, dial_attempt_id DESC LIMIT 1",
        (campaign_id,),
    ).fetchone()
    return dict(zip(("dial_attempt_id", "contact_id", "phone", "status"), row))


def record(db, task: dict, outcome: str, *, campaign_id: int | None = None, **fields) -> None:
    """Write a call record the way the dialer does; any field can be overridden."""
    values = {
        "dial_attempt_id": task["dial_attempt_id"],
        "campaign_id": campaign_id,
        "contact_id": task["contact_id"],
        "phone": task["phone"],
        "outcome": outcome,
        "duration_s": 30,
        "local_hour": 13,
        **fields,
    }
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour) VALUES (%(dial_attempt_id)s, %(campaign_id)s, %(contact_id)s, "
        "%(phone)s, %(outcome)s, now() - interval '1 minute', now(), %(duration_s)s, %(local_hour)s)",
        values,
    )


def contact(db, contact_id: int) -> dict:
    row = db.execute(
        "SELECT status, attempts, last_outcome, next_attempt_at FROM contacts WHERE id = %s", (contact_id,)
    ).fetchone()
    return dict(zip(("status", "attempts", "last_outcome", "next_attempt_at"), row))


def window_closed_ago(db, campaign_id: int, minutes: float) -> None:
    """The dial task's window closed this long ago: a call may have started just before it."""
    db.execute(
        "UPDATE dial_tasks SET not_after = now() - make_interval(secs => %s) "
        "WHERE campaign_id = %s AND status = 'sent'",
        (minutes * 60, campaign_id),
    )


def expire(db, campaign: Campaign) -> int:
    """The expiry a sensor poke runs (a poke of a run that does not dispatch, so it sends nothing)."""
    return poke(db, campaign.id, run_context(campaign.id, dispatch=False)).expired_tasks


# --- late results, attempt ids -------------------------------------------------------------------


def test_a_call_that_may_still_be_talking_is_not_expired_nor_redialed(db, redis_client, make_campaign, sqs, dial_queue):
    campaign = make_campaign(phones=us_numbers(1, seed=101))
    dispatch(db, campaign, run_context(campaign.id))
    first = task_of(db, campaign.id)
    # The call started just before the window closed and has been talking for six minutes.
    window_closed_ago(db, campaign.id, 6)
    assert expire(db, campaign) == 0
    assert task_of(db, campaign.id)["status"] == "sent"
    assert contact(db, first["contact_id"])["status"] == "in_flight"
    assert [t["dial_attempt_id"] for t in sent(sqs, dial_queue)] == [first["dial_attempt_id"]]


def test_a_sent_task_expires_after_its_longest_possible_call(db, redis_client, make_campaign, sqs, dial_queue):
    campaign = make_campaign(phones=us_numbers(1, seed=102), max_call_duration_s=600, expiry_grace_s=60)
    dispatch(db, campaign, run_context(campaign.id))
    window_closed_ago(db, campaign.id, 10.5)  # 630 s: inside 600 + 60
    assert expire(db, campaign) == 0
    window_closed_ago(db, campaign.id, 11.5)  # 690 s: past it
    assert expire(db, campaign) == 1


def test_a_late_converted_result_completes_its_contact(db, redis_client, make_campaign, sqs, dial_queue):
    campaign = make_campaign(phones=us_numbers(1, seed=103))
    dispatch(db, campaign, run_context(campaign.id))
    task = task_of(db, campaign.id)
    window_closed_ago(db, campaign.id, 24 * 60)  # long over: the task expires, the contact waits again
    assert expire(db, campaign) == 1
    record(db, task, "converted", campaign_id=campaign.id)
    ingest(db, campaign)
    assert contact(db, task["contact_id"])["status"] == "completed"
    drain(sqs, dial_queue)
    assert dispatch(db, campaign, run_context(campaign.id, run_id="run-2")).sent == 0
    assert sent(sqs, dial_queue) == []


def test_a_contact_whose_late_result_has_come_is_not_redialed_before_it_is_ingested(
    db, redis_client, make_campaign, sqs, dial_queue
):
    campaign = make_campaign(phones=us_numbers(1, seed=108))
    dispatch(db, campaign, run_context(campaign.id))
    task = task_of(db, campaign.id)
    window_closed_ago(db, campaign.id, 24 * 60)
    assert expire(db, campaign) == 1
    record(db, task, "converted", campaign_id=campaign.id)  # written; no poke has ingested it
    drain(sqs, dial_queue)
    assert dispatch(db, campaign, run_context(campaign.id, run_id="run-2")).sent == 0
    assert sent(sqs, dial_queue) == []


def test_a_late_failure_schedules_its_retry_by_its_delay(db, redis_client, make_campaign, sqs, dial_queue):
    campaign = make_campaign(phones=us_numbers(1, seed=104), retry_delays_s={"busy": 1800})
    dispatch(db, campaign, run_context(campaign.id))
    task = task_of(db, campaign.id)
    window_closed_ago(db, campaign.id, 24 * 60)
    assert expire(db, campaign) == 1
    record(db, task, "busy", campaign_id=campaign.id)
    ingest(db, campaign)
    state = contact(db, task["contact_id"])
    assert (state["status"], state["attempts"], state["last_outcome"]) == ("failed", 1, "busy")
    assert state["next_attempt_at"] > datetime.now(timezone.utc) + timedelta(minutes=25)
    drain(sqs, dial_queue)
    assert dispatch(db, campaign, run_context(campaign.id, run_id="run-2")).sent == 0


def test_dial_attempt_ids_are_never_reused_across_expiry(db, redis_client, make_campaign, sqs, dial_queue):
    campaign = make_campaign(phones=us_numbers(1, seed=105))
    ids = []
    for round_ in range(4):
        dispatch(db, campaign, run_context(campaign.id, run_id=f"run-{round_}"))
        ids += [t["dial_attempt_id"] for t in sent(sqs, dial_queue)]
        window_closed_ago(db, campaign.id, 24 * 60)
        expire(db, campaign)
    assert len(ids) == 4 and len(set(ids)) == 4, ids
    stored = [r[0] for r in db.execute("SELECT dial_attempt_id FROM dial_tasks").fetchall()]
    assert sorted(stored) == sorted(ids)


def dialed_again_after_expiry(db, campaign) -> tuple[dict, dict]:
    """A contact's first dial task expires with no result and the next run dials it again."""
    dispatch(db, campaign, run_context(campaign.id))
    older = task_of(db, campaign.id)
    window_closed_ago(db, campaign.id, 24 * 60)
    expire(db, campaign)
    dispatch(db, campaign, run_context(campaign.id, run_id="run-2"))
    return older, task_of(db, campaign.id)


def test_a_late_result_of_an_older_attempt_never_undoes_a_newer_final_one(
    db, redis_client, make_campaign, sqs, dial_queue
):
    campaign = make_campaign(phones=us_numbers(1, seed=106))
    older, newer = dialed_again_after_expiry(db, campaign)
    assert newer["dial_attempt_id"] != older["dial_attempt_id"]
    record(db, newer, "converted", campaign_id=campaign.id)
    ingest(db, campaign)
    record(db, older, "no_answer", campaign_id=campaign.id)
    ingest(db, campaign)
    state = contact(db, older["contact_id"])
    assert (state["status"], state["last_outcome"]) == ("completed", "converted")


def test_a_late_final_result_completes_a_contact_whose_newer_attempt_is_in_flight(
    db, redis_client, make_campaign, sqs, dial_queue
):
    campaign = make_campaign(phones=us_numbers(1, seed=107))
    older, newer = dialed_again_after_expiry(db, campaign)
    record(db, older, "answered", campaign_id=campaign.id)
    ingest(db, campaign)
    assert contact(db, older["contact_id"])["status"] == "completed"
    record(db, newer, "busy", campaign_id=campaign.id)  # the newer call's failure cannot reopen it
    ingest(db, campaign)
    assert contact(db, older["contact_id"])["status"] == "completed"


# --- opt-outs after the run, the dialer's phone string --------------------------------------------


@pytest.mark.parametrize("status", ["cancelled", "completed", "archived"])
def test_an_opt_out_after_the_run_is_blacklisted_at_once_and_no_campaign_dials_it(
    db, redis_client, make_campaign, sqs, dial_queue, status
):
    [phone] = us_numbers(1, seed=110)
    first = make_campaign("first", phones=[phone])
    dispatch(db, first, run_context(first.id))
    task = task_of(db, first.id)
    db.execute("UPDATE campaigns SET status = %s WHERE id = %s", (status, first.id))
    record(db, task, "opted_out", campaign_id=first.id)  # no poke of the first campaign follows
    active = db.execute("SELECT campaign_id, reason, expires_at FROM blacklist WHERE phone = %s", (phone,)).fetchall()
    assert active == [(None, "opted_out", None)]
    drain(sqs, dial_queue)
    second = make_campaign("second", phones=[phone])
    dispatch(db, second, run_context(second.id))
    assert sent(sqs, dial_queue) == []


def test_an_opt_out_revives_an_expired_blacklist_entry(db, redis_client, make_campaign, sqs, dial_queue):
    [phone] = us_numbers(1, seed=111)
    campaign = make_campaign(phones=[phone])
    db.execute(
        "INSERT INTO blacklist (phone, reason, expires_at) VALUES (%s, 'do_not_call', now() - interval '1 day')",
        (phone,),
    )
    dispatch(db, campaign, run_context(campaign.id))
    record(db, task_of(db, campaign.id), "opted_out", campaign_id=campaign.id)
    assert (
        db.execute(
            "SELECT count(*) FROM blacklist WHERE phone = %s AND campaign_id IS NULL "
            "AND (expires_at IS NULL OR expires_at > now())",
            (phone,),
        ).fetchone()[0]
        == 1
    )


def test_late_results_of_a_finished_run_reach_contacts_and_redis_without_a_poke(
    db, redis_client, make_campaign, sqs, dial_queue
):
    from include.campaigns.blacklist import OPT_OUT_SET
    from include.campaigns.results import ingest_all

    phones = us_numbers(2, seed=112)
    campaign = make_campaign(phones=phones)
    dispatch(db, campaign, run_context(campaign.id))
    tasks = {
        t[0]: dict(zip(("dial_attempt_id", "contact_id", "phone"), t))
        for t in db.execute("SELECT dial_attempt_id, contact_id, phone FROM dial_tasks").fetchall()
    }
    db.execute("UPDATE campaigns SET status = 'cancelled' WHERE id = %s", (campaign.id,))
    converted, opted = tasks.values()
    record(db, converted, "converted", campaign_id=campaign.id)
    record(db, opted, "opted_out", campaign_id=campaign.id)
    assert ingest_all(db)["ingested"] == 2
    assert contact(db, converted["contact_id"])["status"] == "completed"
    assert contact(db, opted["contact_id"])["status"] == "opted_out"
    assert redis_client.sismember(OPT_OUT_SET, opted["phone"])


def test_an_opt_out_blacklists_the_number_dialed_not_the_dialers_string(
    db, redis_client, make_campaign, sqs, dial_queue
):
    [phone] = us_numbers(1, seed=113)
    first = make_campaign("first", phones=[phone])
    dispatch(db, first, run_context(first.id))
    task = task_of(db, first.id)
    record(db, task, "opted_out", campaign_id=first.id, phone=phone.lstrip("+"))  # '1212...' for '+1212...'
    ingest(db, first)
    assert [r[0] for r in db.execute("SELECT phone FROM blacklist").fetchall()] == [phone]
    assert contact(db, task["contact_id"])["status"] == "opted_out"
    drain(sqs, dial_queue)
    second = make_campaign("second", phones=[phone])
    dispatch(db, second, run_context(second.id))
    assert sent(sqs, dial_queue) == []


# --- validation and quarantine -------------------------------------------------------------------

BAD_RECORDS = {
    "contact_mismatch": lambda task, other: {"contact_id": other["contact_id"]},
    "phone_mismatch": lambda task, other: {"phone": other["phone"]},
    "unknown_dial_attempt_id": lambda task, other: {"dial_attempt_id": task["dial_attempt_id"] + "-x"},
    "bad_duration": lambda task, other: {"duration_s": -86400},
    "bad_duration_absurd": lambda task, other: {"duration_s": 10 * 86400},
    "bad_local_hour": lambda task, other: {"local_hour": 99},
}


def quarantined(db) -> list[tuple]:
    return db.execute("SELECT dial_attempt_id, reason FROM call_records_quarantine ORDER BY id").fetchall()


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_a_result_that_does_not_match_its_dial_task_or_is_absurd_is_quarantined_never_applied(
    db, redis_client, make_campaign, sqs, dial_queue, case, caplog
):
    phones = us_numbers(2, seed=120)
    campaign = make_campaign(phones=phones)
    dispatch(db, campaign, run_context(campaign.id))
    rows = db.execute("SELECT dial_attempt_id, contact_id, phone FROM dial_tasks ORDER BY contact_id").fetchall()
    task, other = (dict(zip(("dial_attempt_id", "contact_id", "phone"), r)) for r in rows)
    bad = BAD_RECORDS[case](task, other)
    record(db, task, "converted", campaign_id=campaign.id, **bad)
    with caplog.at_level("WARNING"):
        ingest(db, campaign)
    reason = case.removesuffix("_absurd")
    assert [r[1] for r in quarantined(db)] == [reason]
    assert db.execute("SELECT count(*) FROM call_records").fetchone()[0] == 0
    assert contact(db, task["contact_id"])["status"] == "in_flight"
    assert contact(db, other["contact_id"])["status"] == "in_flight"
    assert task["phone"] not in caplog.text and other["phone"] not in caplog.text
    assert reason in caplog.text


def test_a_result_carrying_another_campaigns_id_is_quarantined_and_its_task_expires_by_the_rules(
    db, redis_client, make_campaign, sqs, dial_queue
):
    from include.campaigns.results import ingest_all

    a = make_campaign("campaign_a", phones=us_numbers(1, seed=121))
    b = make_campaign("campaign_b", phones=us_numbers(1, seed=122))
    dispatch(db, b, run_context(b.id))
    task_b = task_of(db, b.id)
    record(db, task_b, "converted", campaign_id=a.id)
    ingest(db, a)
    assert [r[1] for r in quarantined(db)] == ["campaign_mismatch"]
    assert contact(db, task_b["contact_id"])["status"] == "in_flight"
    # A campaign id no campaign has: no poke ever looks at it, the maintenance pass does.
    record(db, task_b, "converted", campaign_id=987654)
    ingest_all(db)
    assert [r[1] for r in quarantined(db)] == ["campaign_mismatch", "campaign_mismatch"]
    assert db.execute("SELECT count(*) FROM call_records").fetchone()[0] == 0
    # B never waits for ever: its task expires by the rules, and the contact can be dialed again.
    window_closed_ago(db, b.id, 24 * 60)
    assert expire(db, b) == 1
    assert contact(db, task_b["contact_id"])["status"] == "pending"


def test_quarantined_results_are_counted_in_the_report(db, redis_client, make_campaign, sqs, dial_queue):
    from include.campaigns.report_render import render_html
    from include.campaigns.reporting import build_report

    campaign = make_campaign(phones=us_numbers(2, seed=124))
    run = run_context(campaign.id)
    dispatch(db, campaign, run)
    rows = db.execute("SELECT dial_attempt_id, contact_id, phone FROM dial_tasks ORDER BY contact_id").fetchall()
    first, second = (dict(zip(("dial_attempt_id", "contact_id", "phone"), r)) for r in rows)
    record(db, first, "answered", campaign_id=campaign.id, duration_s=-86400)
    record(db, second, "answered", campaign_id=campaign.id, local_hour=99)
    ingest(db, campaign)
    report = build_report(db, campaign.id, run, "completed", None)
    assert report["quarantined_results"] == {"bad_duration": 1, "bad_local_hour": 1}
    assert report["rates"]["acd_s"] is None or report["rates"]["acd_s"] >= 0
    assert "Quarantined results" in render_html(report)
