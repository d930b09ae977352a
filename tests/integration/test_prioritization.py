"""The answer model: trained from call records, and used to order dispatch."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.prioritization import contact_prior_strength, train
from include.campaigns.runs import RunContext
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


def record_history(db, campaign_id, contact_id, phone, outcomes, at):
    for i, outcome in enumerate(outcomes):
        db.execute(
            "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (f"hist-{contact_id}-{i}", campaign_id, contact_id, phone, outcome, at, at),
        )


def test_contacts_who_answer_more_are_dialed_first(db, redis_client, sqs, dial_queue):
    zone = open_zone()
    phones = us_numbers(6, seed=50)
    history = create_campaign(db, "history", config={})
    ids = add_contacts(db, history, [{"phone": p, "timezone": zone} for p in phones])
    now = datetime.now(timezone.utc)
    # Two phones nearly always answer; the others almost never do.
    for contact_id, phone in zip(ids, phones):
        good = phone in phones[4:]
        record_history(
            db,
            history,
            contact_id,
            phone,
            ["answered"] * 9 + ["no_answer"] if good else ["no_answer"] * 9 + ["answered"],
            now - timedelta(days=2),
        )
    db.execute("UPDATE contacts SET timezones = ARRAY[%s] WHERE campaign_id = %s", (zone, history))

    model = train(db)
    assert model["calls"] == 60 and model["contacts_scored"] == 6

    # A new campaign over the same people, with room for only two dial tasks.
    campaign_id = create_campaign(
        db,
        "ranked",
        max_in_flight=2,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones])
    # The new campaign's contacts are the same people: they carry the affinity the model learned.
    db.execute(
        "UPDATE contacts n SET answer_affinity = h.answer_affinity FROM contacts h "
        "WHERE h.campaign_id = %s AND n.campaign_id = %s AND h.phone = n.phone",
        (history, campaign_id),
    )
    now = datetime.now(timezone.utc)
    run = RunContext(campaign_id=campaign_id, run_id="r", run_start=now, run_end=now + timedelta(days=1), live=True)
    dispatch(db, load_campaign(db, campaign_id), run)
    assert sorted(json.loads(m["Body"])["phone"] for m in drain(sqs, dial_queue)) == sorted(phones[4:])


def test_hour_rates_are_smoothed_toward_the_global_rate(db):
    campaign_id = create_campaign(db, "hours", config={})
    [contact_id] = add_contacts(db, campaign_id, [{"phone": us_numbers(1, seed=51)[0]}])
    db.execute("UPDATE contacts SET timezones = ARRAY['UTC']")
    monday_10 = datetime(2026, 11, 23, 10, 15, tzinfo=timezone.utc)
    record_history(db, campaign_id, contact_id, "+12125550000", ["answered"] * 4, monday_10)
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at) "
        "SELECT 'x-' || g, %s, %s, '+12125550000', 'no_answer', %s, %s FROM generate_series(1, 4) g",
        (campaign_id, contact_id, monday_10 + timedelta(days=1), monday_10 + timedelta(days=1)),
    )
    train(db, lookback_days=3650)
    rates = dict(db.execute("SELECT hour_of_week, rate FROM answer_rate_by_hour").fetchall())
    assert len(rates) == 168
    assert rates[10] > 0.5 > rates[24 + 10]  # Monday 10h answered, Tuesday 10h did not
    assert rates[10] < 1 and rates[24 + 10] > 0  # but neither is taken at face value
    assert abs(rates[50] - 0.5) < 1e-6  # an hour with no calls gets the global rate


def test_prior_strength_follows_the_spread_between_contacts():
    # Rates spread far beyond binomial noise: contacts differ, so trust their own data more.
    assert contact_prior_strength(0.3, var_rate=0.1, mean_inv_n=0.1) < 5
    # Spread no larger than noise: contacts look alike, so lean on the global rate.
    assert contact_prior_strength(0.3, var_rate=0.02, mean_inv_n=0.1) == 1000
