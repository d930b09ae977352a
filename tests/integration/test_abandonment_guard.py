"""The abandonment-rate guard: over the limit (3% of live answers over 30 days), the sensor stops
topping up and alerts once; back under it, the top-up resumes."""

from __future__ import annotations

import json

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.progress import poke
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain
from tests.integration.test_results_ingest import run_context

pytestmark = pytest.mark.integration


def calls(db, campaign_id: int, outcome: str, count: int, days_ago: float = 0) -> None:
    """Past calls of the campaign, already applied (their contacts are elsewhere)."""
    db.execute(
        "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, "
        "ended_at, duration_s, local_hour, ingested_at) "
        "SELECT 'past-' || gen_random_uuid() || '-' || i, %(campaign_id)s, 0, '+12125550100', "
        "%(outcome)s, now() - make_interval(days => %(days)s), now() - make_interval(days => %(days)s), 0, 12, "
        "now() FROM generate_series(1, %(count)s) i",
        {"outcome": outcome, "count": count, "campaign_id": campaign_id, "days": days_ago},
    )


def alerts(sqs, inbox) -> list[dict]:
    found = []
    for message in drain(sqs, inbox):
        body = json.loads(message["Body"])
        if body.get("MessageAttributes", {}).get("outcome", {}).get("Value") == "abandon_rate_exceeded":
            found.append(body)
    return found


def test_an_abandonment_spike_stops_the_top_up_and_alerts_once_then_resumes_under_the_limit(
    db, redis_client, dial_queue, sqs, topic_inbox
):
    campaign_id = create_campaign(
        db,
        "spike",
        status="active",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(5, seed=501)])
    run = run_context(campaign_id)
    calls(db, campaign_id, "answered", 96)
    calls(db, campaign_id, "abandoned", 4)  # 4 of 100 live answers: 4% > 3%
    calls(db, campaign_id, "abandoned", 50, days_ago=31)  # outside the 30 days: not counted

    first = poke(db, campaign_id, run)
    assert first.dispatched == 0
    assert first.abandonment["exceeded"] and first.abandonment["rate"] == 0.04
    assert first.abandonment["limit"] == 0.03 and first.abandonment["window_days"] == 30
    second = poke(db, campaign_id, run)
    assert second.dispatched == 0
    assert len(alerts(sqs, topic_inbox)) == 1  # once per crossing, not per poke
    assert db.execute("SELECT count(*) FROM dial_tasks").fetchone() == (0,)

    calls(db, campaign_id, "answered", 50)  # 4 of 150: 2.7%, under the limit
    third = poke(db, campaign_id, run)
    assert not third.abandonment["exceeded"]
    assert third.dispatched == 5
    assert alerts(sqs, topic_inbox) == []


def test_a_rate_exactly_at_the_limit_keeps_topping_up(db, redis_client, dial_queue, sqs, topic_inbox):
    campaign_id = create_campaign(
        db,
        "at_limit",
        status="active",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(2, seed=502)])
    calls(db, campaign_id, "answered", 97)
    calls(db, campaign_id, "abandoned", 3)
    result = poke(db, campaign_id, run_context(campaign_id))
    assert result.abandonment["rate"] == 0.03 and not result.abandonment["exceeded"]
    assert result.dispatched == 2
    assert alerts(sqs, topic_inbox) == []


def test_an_idle_poke_measures_the_rate_again_only_after_a_while_but_new_results_at_once(
    db, redis_client, dial_queue, sqs, topic_inbox
):
    from datetime import datetime, timedelta, timezone

    from include.campaigns.progress import ABANDON_RATE_RECHECK

    campaign_id = create_campaign(
        db,
        "idle_rate",
        status="active",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(1, seed=505)])
    run = run_context(campaign_id)
    calls(db, campaign_id, "answered", 100)
    first = poke(db, campaign_id, run)
    assert first.abandonment["rate"] == 0 and first.dispatched == 1
    assert poke(db, campaign_id, run).abandonment is None  # idle, measured moments ago
    later = datetime.now(timezone.utc) + ABANDON_RATE_RECHECK + timedelta(seconds=1)
    assert poke(db, campaign_id, run, now=later).abandonment is not None
    # A result ingested by the poke is measured at once: here it takes the rate over the limit.
    from tests.integration.test_results_ingest import record, task_of

    calls(db, campaign_id, "abandoned", 3)
    record(db, task_of(db, campaign_id), "abandoned", campaign_id=campaign_id)
    measured = poke(db, campaign_id, run).abandonment
    assert measured["abandoned"] == 4 and measured["exceeded"]
    assert len(alerts(sqs, topic_inbox)) == 1


def test_the_report_shows_the_abandonment_rate_and_its_limit(db, redis_client, dial_queue):
    from include.campaigns.report_render import render_html
    from include.campaigns.reporting import build_report

    campaign_id = create_campaign(db, "report_rate", config={"dial_queue": dial_queue})
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(1, seed=503)])
    from include.campaigns.resolution import resolve_contacts

    resolve_contacts(db, load_campaign(db, campaign_id))
    calls(db, campaign_id, "answered", 45)
    calls(db, campaign_id, "abandoned", 5)
    report = build_report(db, campaign_id, run_context(campaign_id), "completed", None)
    assert {k: report["abandonment"][k] for k in ("rate", "limit", "window_days", "exceeded")} == {
        "rate": 0.1,
        "limit": 0.03,
        "window_days": 30,
        "exceeded": True,
    }
    assert "310.4(b)(4)(i)" in report["abandonment"]["source"]
    html = render_html(report)
    assert "Abandonment rate" in html and "10.0%" in html and "3.0%" in html


def test_an_abandonment_spike_in_a_real_run_stops_the_top_up_and_alerts_once(
    db, redis_client, dialer, dial_queue, sqs, topic_inbox
):
    import time
    from datetime import datetime, timedelta, timezone

    from tests.integration.test_exit_paths import campaign_dag, notifications, outcomes, report_of, when

    now = datetime.now(timezone.utc)
    campaign_id = create_campaign(
        db,
        "spike_run",
        poke_interval_s=1,
        max_in_flight=10,
        start_at=now - timedelta(minutes=5),
        end_at=now + timedelta(hours=1),
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "max_attempts": 1,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in us_numbers(40, seed=504)])
    dialer(dial_queue, {"abandoned": 0.5, "answered": 0.5}, seed=5)
    # Once the guard holds, a few more pokes find it holding; then the operator stops the run.
    when(
        lambda conn: conn.execute(
            "SELECT abandon_guard_since IS NOT NULL FROM campaigns WHERE id = %s", (campaign_id,)
        ).fetchone()[0],
        lambda conn: (
            time.sleep(4),
            conn.execute("UPDATE campaigns SET status = 'cancelled' WHERE id = %s", (campaign_id,)),
        ),
        timeout=300,
    )
    run = campaign_dag("spike_run").test()
    assert run.state == "success"
    sent = db.execute("SELECT count(*) FROM dial_tasks").fetchone()[0]
    report = report_of(db, campaign_id, run.run_id)
    assert 10 <= sent < 40, "the top-up stopped once the rate was over the limit"
    polls = db.execute("SELECT count(*) FROM campaign_progress WHERE campaign_id = %s", (campaign_id,)).fetchone()[0]
    assert polls >= 3
    messages = outcomes(notifications(sqs, topic_inbox, campaign_id))
    assert messages.count("abandon_rate_exceeded") == 1, messages
    assert messages[-1] == "cancelled"
    assert report["abandonment"]["exceeded"] and report["abandonment"]["limit"] == 0.03
    assert report["abandonment"]["rate"] > 0.03
