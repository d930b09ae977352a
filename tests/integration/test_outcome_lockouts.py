"""Lockouts after an outcome: no redial of an abandoned call for 72 hours; after an answering
machine, none the same local day for a UK number; a campaign's own lockout only adds to the law's."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.progress import ingest
from include.campaigns.resolution import resolve_contacts
from tests.helpers import open_zone, together, us_numbers
from tests.integration.test_results_ingest import contact, record, run_context, task_of

pytestmark = pytest.mark.integration

UK_NUMBER = "+442079460123"


def called_once(db, dial_queue, phone: str, outcome: str, **config) -> tuple[dict, datetime, str]:
    """One contact dialed once and its result ingested; return the contact, the ingest's instant, its zone."""
    zone = open_zone()
    campaign = campaign_with(db, dial_queue, f"lockout_{outcome}", phone, zone, **config)
    campaign_id = campaign.id
    assert dispatch(db, campaign, run_context(campaign_id)).sent == 1
    task = task_of(db, campaign_id)
    record(db, task, outcome, campaign_id=campaign_id)
    now = datetime.now(timezone.utc)
    assert ingest(db, campaign, now)[0] == 1
    return contact(db, task["contact_id"]), now, zone


def test_an_abandoned_call_is_not_redialed_for_72_hours(db, redis_client, dial_queue):
    state, now, _ = called_once(
        db, dial_queue, us_numbers(1, seed=301)[0], "abandoned", retry_delays_s={"abandoned": 0}
    )
    assert state["status"] == "failed" and state["last_outcome"] == "abandoned"
    assert state["next_attempt_at"] >= now + timedelta(hours=72)


def test_a_machine_answered_uk_number_is_not_redialed_the_same_local_day(db, redis_client, dial_queue):
    state, now, zone = called_once(db, dial_queue, UK_NUMBER, "machine", retry_delays_s={"machine": 0})
    local = now.astimezone(ZoneInfo(zone))
    next_midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)
    assert state["status"] == "failed"
    assert state["next_attempt_at"] >= next_midnight


def test_a_machine_answered_us_number_has_no_same_day_lockout(db, redis_client, dial_queue):
    state, now, _ = called_once(db, dial_queue, us_numbers(1, seed=302)[0], "machine", retry_delays_s={"machine": 0})
    assert state["next_attempt_at"] < now + timedelta(minutes=5)


def test_a_campaign_lockout_is_stricter_than_the_law(db, redis_client, dial_queue):
    state, now, _ = called_once(
        db,
        dial_queue,
        us_numbers(1, seed=303)[0],
        "abandoned",
        retry_delays_s={"abandoned": 0},
        lockouts={"abandoned": {"hours": 96}},
    )
    assert state["next_attempt_at"] >= now + timedelta(hours=96)


def test_a_campaign_lockout_is_never_looser_than_the_law(db, redis_client, dial_queue):
    state, now, _ = called_once(
        db,
        dial_queue,
        us_numbers(1, seed=304)[0],
        "abandoned",
        retry_delays_s={"abandoned": 0},
        lockouts={"abandoned": {"hours": 1}},
    )
    assert state["next_attempt_at"] >= now + timedelta(hours=72)


def test_a_campaign_can_lock_out_machine_answered_us_numbers_for_the_day(db, redis_client, dial_queue):
    state, now, zone = called_once(
        db,
        dial_queue,
        us_numbers(1, seed=305)[0],
        "machine",
        retry_delays_s={"machine": 0},
        lockouts={"machine": {"rest_of_local_day": True}},
    )
    local = now.astimezone(ZoneInfo(zone))
    assert state["next_attempt_at"] >= datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=local.tzinfo)


# --- the lockout binds the number, in every campaign and every contact row of it -----------------


def campaign_with(db, dial_queue, slug: str, phone: str, zone: str, **config):
    campaign_id = create_campaign(
        db,
        slug,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
            "max_attempts": 5,
            **config,
        },
    )
    add_contacts(db, campaign_id, [{"phone": phone, "timezone": zone}])
    return load_campaign(db, campaign_id)


def sent_by(db, campaign) -> int:
    return dispatch(db, load_campaign(db, campaign.id), run_context(campaign.id)).sent


def lockout_written_hours_ago(db, phone: str, hours: float) -> None:
    """The number's lockout outcome as if its result had been written this long ago."""
    assert (
        db.execute(
            "UPDATE number_lockouts SET outcome_at = now() - make_interval(secs => %s) WHERE phone = %s",
            (hours * 3600, phone),
        ).rowcount
        == 1
    )


def test_an_abandoned_call_locks_the_number_out_of_every_campaign_for_72_hours(db, redis_client, dial_queue):
    phone = us_numbers(1, seed=311)[0]
    _, _, zone = called_once(db, dial_queue, phone, "abandoned", retry_delays_s={"abandoned": 0})
    other = campaign_with(db, dial_queue, "lockout_other", phone, zone)
    assert sent_by(db, other) == 0
    lockout_written_hours_ago(db, phone, 71.5)
    assert sent_by(db, other) == 0
    lockout_written_hours_ago(db, phone, 72.5)
    assert sent_by(db, other) == 1


def test_an_abandoned_call_locks_the_number_out_before_its_result_is_ingested(db, redis_client, dial_queue):
    phone = us_numbers(1, seed=312)[0]
    zone = open_zone()
    first = campaign_with(db, dial_queue, "lockout_first", phone, zone)
    assert sent_by(db, first) == 1
    record(db, task_of(db, first.id), "abandoned", campaign_id=first.id)
    assert sent_by(db, campaign_with(db, dial_queue, "lockout_second", phone, zone)) == 0


def test_a_machine_answered_uk_number_is_locked_out_of_every_campaign_for_the_local_day(db, redis_client, dial_queue):
    _, _, zone = called_once(db, dial_queue, UK_NUMBER, "machine", retry_delays_s={"machine": 0})
    other = campaign_with(db, dial_queue, "lockout_other_uk", UK_NUMBER, zone)
    assert sent_by(db, other) == 0
    local = datetime.now(timezone.utc).astimezone(ZoneInfo(zone))
    since_midnight = (local - local.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600
    lockout_written_hours_ago(db, UK_NUMBER, since_midnight + 0.5)  # yesterday, local
    assert sent_by(db, other) == 1


def test_a_machine_answered_us_number_is_not_locked_out_of_other_campaigns(db, redis_client, dial_queue):
    phone = us_numbers(1, seed=313)[0]
    _, _, zone = called_once(db, dial_queue, phone, "machine", retry_delays_s={"machine": 0})
    assert sent_by(db, campaign_with(db, dial_queue, "lockout_other_us", phone, zone)) == 1


def test_an_abandoned_number_re_imported_as_a_new_contact_is_not_redialed(db, redis_client, dial_queue):
    phone = us_numbers(1, seed=314)[0]
    _, _, zone = called_once(db, dial_queue, phone, "abandoned", retry_delays_s={"abandoned": 0})
    campaign_id = db.execute("SELECT campaign_id FROM contacts WHERE phone = %s", (phone,)).fetchone()[0]
    db.execute("DELETE FROM contacts WHERE campaign_id = %s", (campaign_id,))
    add_contacts(db, campaign_id, [{"phone": phone, "timezone": zone}])
    campaign = load_campaign(db, campaign_id)
    assert sent_by(db, campaign) == 0
    lockout_written_hours_ago(db, phone, 73)
    assert sent_by(db, campaign) == 1


def test_a_campaign_lockout_binds_its_own_dials_only_whoever_made_the_call(db, redis_client, dial_queue):
    phone = us_numbers(1, seed=315)[0]
    _, _, zone = called_once(db, dial_queue, phone, "abandoned", retry_delays_s={"abandoned": 0})
    lockout_written_hours_ago(db, phone, 80)  # past the law's 72 h, inside a campaign's own 96 h
    stricter = campaign_with(db, dial_queue, "lockout_stricter", phone, zone, lockouts={"abandoned": {"hours": 96}})
    plain = campaign_with(db, dial_queue, "lockout_plain", phone, zone)
    assert sent_by(db, stricter) == 0
    assert sent_by(db, plain) == 1


def test_campaigns_claiming_a_number_at_once_never_dial_it_inside_its_lockout(db, redis_client, dial_queue):
    phone = us_numbers(1, seed=316)[0]
    _, _, zone = called_once(db, dial_queue, phone, "abandoned", retry_delays_s={"abandoned": 0})
    others = [campaign_with(db, dial_queue, f"lockout_race_{i}", phone, zone) for i in range(3)]
    sent = []
    errors = together(
        *(
            lambda conn, c=c: sent.append(dispatch(conn, load_campaign(conn, c.id), run_context(c.id)).sent)
            for c in others
        )
    )
    assert not errors and sent == [0, 0, 0]
    assert db.execute("SELECT count(*) FROM dial_tasks WHERE phone = %s", (phone,)).fetchone()[0] == 1


def test_the_preview_counts_a_number_locked_out_by_another_campaign_as_a_lockout(db, redis_client, dial_queue):
    """The dry run and the Campaigns page say why a contact will not be dialed, as the claim decides it."""
    from include.campaigns.reporting import skips

    phone = us_numbers(1, seed=321)[0]
    _, _, zone = called_once(db, dial_queue, phone, "abandoned", retry_delays_s={"abandoned": 0})
    other = campaign_with(db, dial_queue, "lockout_preview", phone, zone)
    resolve_contacts(db, other)
    preview = skips(db, other, datetime.now(timezone.utc))
    assert (preview["eligible"], preview["skipped_by_reason"]) == (0, {"lockout": 1})
    assert sent_by(db, other) == 0
    lockout_written_hours_ago(db, phone, 72.5)
    preview = skips(db, other, datetime.now(timezone.utc))
    assert (preview["eligible"], preview["skipped_by_reason"]) == (1, {})
    assert sent_by(db, other) == 1


def test_the_preview_holds_a_number_to_the_lowest_legal_cap_of_any_campaign(db, redis_client, dial_queue):
    """Florida allows 3 calls in 24 h: a number another campaign places in Florida is capped in a
    New York campaign's preview too, as its claim caps it."""
    from include.campaigns.reporting import skips

    phone = us_numbers(1, seed=322)[0]
    zone = open_zone()
    florida = create_campaign(
        db,
        "cap_preview_fl",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
            "max_attempts": 5,
            "retry_delays_s": {"busy": 0},
        },
    )
    add_contacts(db, florida, [{"phone": phone, "timezone": zone, "region": "FL"}])
    for _ in range(3):
        assert sent_by(db, load_campaign(db, florida)) == 1
        record(db, task_of(db, florida), "busy", campaign_id=florida)
        ingest(db, load_campaign(db, florida), datetime.now(timezone.utc))
    other = campaign_with(db, dial_queue, "cap_preview_other", phone, zone)
    resolve_contacts(db, other)
    preview = skips(db, other, datetime.now(timezone.utc))
    assert (preview["eligible"], preview["skipped_by_reason"]) == (0, {"cap": 1})
    assert sent_by(db, other) == 0
