"""When a run may dial, and how it ends: its interval, and the run-end rules."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from include.campaigns.campaign import Campaign
from include.campaigns.outcomes import Outcome
from include.campaigns.run_end import RunFacts, decide
from include.campaigns.runs import liveness, run_end

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)
ONE_OFF = replace(Campaign.missing(1), schedule=None, timezone="UTC", end_at=NOW + timedelta(days=2))
DAILY_9_NY = replace(
    Campaign.missing(2), schedule="0 9 * * *", timezone="America/New_York", end_at=NOW + timedelta(days=30)
)


def test_a_one_off_run_lasts_until_the_campaign_ends():
    assert run_end(None, "UTC", ONE_OFF.end_at, NOW) == ONE_OFF.end_at


def test_a_recurring_run_lasts_until_its_next_fire_time_in_the_campaigns_zone():
    run_after = datetime(2026, 11, 28, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York
    assert run_end("0 9 * * *", "America/New_York", DAILY_9_NY.end_at, run_after) == datetime(
        2026, 11, 29, 14, 0, tzinfo=timezone.utc
    )


def test_a_recurring_run_never_outlasts_the_campaign():
    end = NOW + timedelta(hours=3)
    assert run_end("0 9 * * *", "America/New_York", end, NOW) == end


def test_a_current_run_is_live():
    assert liveness(ONE_OFF, run_type="manual", run_after=NOW, now=NOW)[0] is True


def test_a_backfill_never_dials():
    live, reason, _ = liveness(ONE_OFF, run_type="backfill", run_after=NOW, now=NOW)
    assert live is False and "backfill" in reason


def test_a_run_started_after_its_interval_ended_only_re_reports():
    three_days_ago = NOW - timedelta(days=3)
    live, reason, end = liveness(DAILY_9_NY, run_type="scheduled", run_after=three_days_ago, now=NOW)
    assert live is False and end < NOW and "regenerates the report" in reason


# How a run ends: the README's table, one test per row, and the properties that hold across it.

TICK = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)
LATER = TICK + timedelta(days=30)


def facts(**kw) -> RunFacts:
    return RunFacts(
        **{"now": TICK, "run_end": TICK + timedelta(minutes=2), "campaign_end": LATER, "status": "active", **kw}
    )


def test_a_runs_interval_end_leaves_waiting_contacts_for_the_next_run():
    verdict = decide(facts(now=TICK + timedelta(minutes=2), pending=1, waiting_retry=1, run_dial_tasks=3))
    assert (verdict.done, verdict.outcome, verdict.campaign_status) == (True, "interval_ended", "scheduled")
    assert verdict.expire_unreached is False and verdict.campaign_ended is False


def test_a_run_that_found_nobody_callable_ends_nothing_to_do_and_keeps_the_campaign_scheduled():
    verdict = decide(facts(now=TICK + timedelta(minutes=2), pending=1, waiting_retry=1, run_dial_tasks=0))
    assert (verdict.done, verdict.outcome, verdict.campaign_status) == (True, "nothing_to_do", "scheduled")
    assert verdict.expire_unreached is False


def test_a_run_whose_retries_fall_due_after_it_ends_early_and_leaves_them_waiting():
    verdict = decide(facts(waiting_retry=2, retry_due_in_run=0, run_dial_tasks=2))
    assert (verdict.done, verdict.outcome, verdict.campaign_status) == (True, "completed", "scheduled")
    assert verdict.expire_unreached is False


def test_a_run_waits_while_a_retry_falls_due_inside_it():
    assert decide(facts(waiting_retry=1, retry_due_in_run=1)).done is False


def test_only_the_campaigns_end_expires_unreached_contacts():
    verdict = decide(facts(now=LATER, run_end=LATER, pending=3, run_dial_tasks=1))
    assert (verdict.outcome, verdict.expire_unreached, verdict.campaign_status) == (
        "completed_at_end",
        True,
        "completed",
    )
    assert verdict.campaign_ended is True


def test_the_last_runs_leftover_retries_expire_with_the_campaign():
    verdict = decide(facts(run_end=LATER, waiting_retry=1, retry_due_in_run=0, run_dial_tasks=1))
    assert (verdict.outcome, verdict.expire_unreached, verdict.campaign_status) == ("completed", True, "completed")


def test_a_campaign_with_every_contact_finished_completes():
    verdict = decide(facts())
    assert (verdict.done, verdict.outcome, verdict.campaign_status, verdict.campaign_ended) == (
        True,
        "completed",
        "completed",
        True,
    )
    assert verdict.expire_unreached is False


def test_a_recurring_campaign_with_every_contact_finished_waits_for_its_next_tick_not_its_end():
    verdict = decide(facts(recurring=True))
    assert (verdict.done, verdict.outcome, verdict.campaign_status, verdict.campaign_ended) == (
        True,
        "completed",
        "scheduled",
        False,
    )
    last = decide(facts(recurring=True, run_end=facts().campaign_end))
    assert (last.outcome, last.campaign_status, last.campaign_ended) == ("completed", "completed", True)
    late = decide(facts(recurring=True, now=facts().campaign_end))  # a poke after the campaign's end
    assert (late.outcome, late.campaign_status, late.campaign_ended) == ("completed", "completed", True)


def test_a_run_with_max_contacts_ends_once_its_dial_tasks_have_results():
    assert decide(facts(pending=5, max_contacts=2, run_dial_tasks=2, run_open_tasks=1)).done is False
    verdict = decide(facts(pending=5, max_contacts=2, run_dial_tasks=2, run_open_tasks=0))
    assert (verdict.done, verdict.outcome, verdict.campaign_status, verdict.expire_unreached) == (
        True,
        "limit_reached",
        "scheduled",
        False,
    )


def test_a_paused_run_waits_inside_its_interval_and_ends_with_it():
    assert decide(facts(status="paused", pending=2)).done is False
    ended = decide(facts(status="paused", pending=2, now=TICK + timedelta(minutes=2)))
    assert ended.done and "paused" not in ended.settles_from


def test_a_cancel_rewrites_no_contact():
    verdict = decide(facts(status="cancelled", pending=2, in_flight=1))
    assert (verdict.outcome, verdict.expire_unreached, verdict.campaign_status) == ("cancelled", False, None)


def test_dry_runs_and_re_reports_touch_nothing():
    for verdict, outcome in (
        (decide(facts(dry_run=True, pending=1)), "dry_run"),
        (decide(facts(live=False, pending=1, now=TICK + timedelta(days=1))), "report_only"),
    ):
        assert (verdict.outcome, verdict.expire_unreached, verdict.campaign_status) == (outcome, False, None)


def test_a_run_that_starts_after_the_campaigns_end_dials_no_one_but_settles_the_end():
    verdict = decide(facts(live=False, pending=1, now=LATER, run_end=LATER))
    assert (verdict.outcome, verdict.expire_unreached, verdict.campaign_status, verdict.campaign_ended) == (
        "report_only",
        True,
        "completed",
        True,
    )


counts = st.integers(min_value=0, max_value=3)


@given(
    status=st.sampled_from(["scheduled", "active", "paused", "cancelled"]),
    pending=counts,
    in_flight=counts,
    waiting=counts,
    due=counts,
    sent=counts,
    open_=counts,
    limit=st.none() | st.integers(1, 3),
    now_min=st.integers(0, 5),
    run_min=st.integers(1, 4),
    end_min=st.integers(1, 6),
    live=st.booleans(),
    dry_run=st.booleans(),
    recurring=st.booleans(),
)
@settings(max_examples=400)
def test_run_end_properties(
    status, pending, in_flight, waiting, due, sent, open_, limit, now_min, run_min, end_min, live, dry_run, recurring
):
    campaign_end = TICK + timedelta(minutes=end_min)
    f = RunFacts(
        now=TICK + timedelta(minutes=now_min),
        run_end=min(TICK + timedelta(minutes=run_min), campaign_end),
        campaign_end=campaign_end,
        status=status,
        recurring=recurring,
        live=live,
        dry_run=dry_run,
        pending=pending,
        in_flight=in_flight,
        waiting_retry=waiting,
        retry_due_in_run=min(due, waiting),
        max_contacts=limit,
        run_dial_tasks=sent,
        run_open_tasks=min(open_, sent),
    )
    verdict = decide(f)
    # Every run the poke ends is named in the one vocabulary; a waiting run has no outcome yet.
    assert isinstance(verdict.outcome, Outcome) if verdict.done else verdict.outcome is None
    # Contacts are expired only when no later run can call them: at the campaign's end.
    if verdict.expire_unreached:
        assert (
            max(f.now, f.run_end) >= f.campaign_end
            and verdict.campaign_ended
            and verdict.campaign_status == "completed"
        )
    # A run never outlives its interval, nor the campaign.
    if f.now >= f.run_end:
        assert verdict.done
    # Nothing to dial and nothing to wait for: the campaign is finished, never a failure.
    # A recurring campaign lives on until its last run: its next tick may find new contacts.
    if live and not dry_run and status != "cancelled" and pending + in_flight + waiting == 0:
        last = f.run_end >= f.campaign_end or f.now >= f.campaign_end
        assert (verdict.outcome, verdict.campaign_status) == (
            "completed",
            "scheduled" if recurring and not last else "completed",
        )
    # A finished campaign is completed; a run's own end sends it back to scheduled.
    if verdict.campaign_status:
        assert verdict.campaign_status == ("completed" if verdict.campaign_ended else "scheduled")
    # Only the operator's cancel, a dry run or a re-report inside the campaign leaves the status alone.
    if verdict.done and verdict.campaign_status is None:
        assert verdict.outcome in ("cancelled", "dry_run", "report_only")
