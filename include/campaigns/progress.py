"""One poke of the completion sensor: ingest results, reconcile, decide, top up.

A sensor's XComs are cleared before every poke, so everything a poke needs to remember lives
in PostgreSQL: the ledger, the contacts and the progress snapshots.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from include.campaigns import blacklist
from include.campaigns.calling_window import abandon_limit, lockout_until, split_key
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.config import FINAL_OUTCOMES, LOCKOUT_OUTCOMES
from include.campaigns.db import execute, fetch_all, fetch_one
from include.campaigns.dispatch import dispatch
from include.campaigns.outcomes import Outcome
from include.campaigns.phones import mask
from include.campaigns.run_end import RunFacts, Verdict, decide
from include.campaigns.runs import RunContext

log = logging.getLogger(__name__)

# A poke is a short step of a reschedule-mode sensor, and it should stay one whatever arrived:
# the queue top-up starts no new claim once the poke has run this long (at least one small chunk
# is always claimed, so a campaign keeps moving), and the next poke goes on where it stopped.
TOP_UP_CLAIMS_UNTIL_S = 0.5


@dataclass
class PokeResult:
    done: bool
    outcome: Outcome | None
    counts: dict[str, int]
    ingested: int = 0
    expired_tasks: int = 0
    dispatched: int = 0
    note: str | None = None
    abandonment: dict | None = None  # the rate, its limit, and whether the top-up is held back
    campaign_ended: bool = False  # this run was the campaign's last; its report is the final one

    def as_dict(self) -> dict:
        return asdict(self)


# A call longer than a day is no call: its record is quarantined, not counted in the talk time.
MAX_RECORD_DURATION_S = 24 * 3600


def ingest(
    conn, campaign: Campaign, now: datetime | None = None, *, waiting: bool | None = None
) -> tuple[int, list[str]]:
    """Fold new call records into contact states; return how many, and the new opt-outs.

    The records are the ones carrying this campaign's id; each is checked against the dial task it
    names, and one that does not match it is quarantined (call_records_ingest.sql), so a record
    carrying this campaign's id for another campaign's dial task is never applied here.
    ``waiting`` is what a probe of this poke already found (campaign_poke_state.sql).
    """
    if waiting is None:
        waiting = fetch_one(conn, "call_records_waiting", {"campaign_id": campaign.id})["waiting"]
    if not waiting:
        return 0, []  # the common idle poke: one index probe, nothing else
    now = now or datetime.now(timezone.utc)
    config = campaign.config
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
    reopen = {}
    for key in keys:
        zone, jurisdiction = split_key(key)
        for outcome, delay in config.retry_delays_s.items():
            due = now + timedelta(seconds=delay)
            # A lockout (the law's where the number is, and the campaign's own) is a floor under the
            # retry delay. It runs from the ingest, never earlier than the call: the safe side.
            if outcome in LOCKOUT_OUTCOMES:
                locked = lockout_until(zone, jurisdiction, outcome, now, config.lockouts.get(outcome))
                due = max(due, locked) if locked else due
            opening = config.policy.next_opening(zone, jurisdiction, due)
            reopen[f"{key}#{outcome}"] = (opening or due).isoformat()
    with conn.transaction():
        row = fetch_one(
            conn,
            "call_records_ingest",
            {
                "campaign_id": campaign.id,
                "final_outcomes": list(FINAL_OUTCOMES),
                "max_attempts": config.max_attempts,
                "retry_delays": json.dumps(config.retry_delays_s),
                "reopen_at": json.dumps(reopen),
                "max_duration_s": MAX_RECORD_DURATION_S,
            },
        )
    if row["quarantined"]:
        reasons = Counter(bad["reason"] for bad in row["quarantined"])
        log.warning(
            "Quarantined %d call record(s) carrying campaign %s (%s), e.g. %s",
            len(row["quarantined"]),
            campaign.id,
            ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())),
            "; ".join(
                f"{bad['dial_attempt_id']} phone {mask(bad['phone'])} {bad['reason']}" for bad in row["quarantined"][:5]
            ),
        )
    opted_out = list(row["opted_out_phones"])
    # PostgreSQL has the opt-outs since the dialer wrote them (a trigger on call_records); Redis gets
    # them at once, so a dispatcher that screens with Redis alone still sees them.
    blacklist.add_opt_outs(opted_out)
    return row["ingested"], opted_out


def _expiry_params(campaign: Campaign) -> dict:
    config = campaign.config
    return {"campaign_id": campaign.id, "grace_s": config.expiry_grace_s, "max_call_s": config.max_call_duration_s}


def expire_tasks(conn, campaign: Campaign) -> int:
    """Expire the campaign's dial tasks whose call cannot be going on any more; return how many.
    One statement, so atomic on its own."""
    return len(fetch_all(conn, "dial_tasks_expire", _expiry_params(campaign)))


# A campaign's count rows (by status; abandonment counts by hour) are folded once this many more
# have piled up: summing them stays a small index read, and folding is rare enough to cost the
# pokes nothing.
FOLD_COUNT_ROWS_OVER = 100


def _in_transaction(conn) -> bool:
    from psycopg.pq import TransactionStatus

    return conn.info.transaction_status != TransactionStatus.IDLE


def status_counts(conn, campaign_id: int) -> dict[str, int]:
    """The campaign's contacts by status, exact in this call's snapshot.

    The statements that move contacts record what they moved (migration 0018), so this sums a few
    rows and never reads a contact. From a transaction of its own, it folds the rows when they
    have piled up; inside a caller's transaction it only reads.
    """
    rows = fetch_all(conn, "contacts_status_counts", {"campaign_id": campaign_id})
    if not _in_transaction(conn) and rows and rows[0]["summed"] > FOLD_COUNT_ROWS_OVER:
        with conn.transaction():
            execute(conn, "contacts_status_counts_fold", {"campaign_id": campaign_id})
    return {r["status"]: int(r["n"]) for r in rows if r["n"]}


def _retry_due_before(conn, campaign_id: int, before: datetime) -> int:
    row = fetch_one(conn, "contacts_retry_due", {"campaign_id": campaign_id, "before": before})
    return row["n"]


def _facts(conn, campaign: Campaign, run: RunContext, now: datetime, counts: dict[str, int]) -> RunFacts:
    """What the run-end table needs; the costlier counts only when a rule can use them."""
    pending, in_flight, waiting = counts.get("pending", 0), counts.get("in_flight", 0), counts.get("failed", 0)
    due_in_run = 0
    if pending + in_flight == 0 and waiting:
        due_in_run = _retry_due_before(conn, campaign.id, min(run.run_end, campaign.end_at))
    # This run's dial tasks decide a limited run's end on every poke, and name any run's end.
    ending = now >= run.run_end or now >= campaign.end_at or (pending + in_flight == 0 and due_in_run == 0)
    run_tasks = {"sent": 0, "open": 0}
    if run.max_contacts is not None or ending:
        run_tasks = fetch_one(conn, "dial_tasks_run_counts", {"campaign_id": campaign.id, "run_id": run.run_id})
    return RunFacts(
        now=now,
        run_end=run.run_end,
        campaign_end=campaign.end_at,
        status=campaign.status,
        recurring=bool(campaign.schedule),
        live=run.live,
        dry_run=run.dry_run,
        pending=pending,
        in_flight=in_flight,
        waiting_retry=waiting,
        retry_due_in_run=due_in_run,
        max_contacts=run.max_contacts,
        run_dial_tasks=run_tasks["sent"],
        run_open_tasks=run_tasks["open"],
    )


def _apply(conn, campaign_id: int, verdict: Verdict) -> None:
    """What the run's end does to the contacts and the campaign, in one transaction."""
    if not (verdict.expire_unreached or verdict.campaign_status):
        return
    with conn.transaction():
        if verdict.expire_unreached:
            execute(conn, "contacts_expire_unreached", {"campaign_id": campaign_id})
        if verdict.campaign_status:
            execute(
                conn,
                "campaign_set_status",
                {
                    "campaign_id": campaign_id,
                    "status": verdict.campaign_status,
                    "from_statuses": list(verdict.settles_from),
                },
            )


def abandonment(conn, campaign: Campaign, now: datetime) -> dict | None:
    """The campaign's abandonment rate over the window of the strictest limit where its contacts
    are (abandoned calls / live answers), the limit and its source; None when no rule sets one."""
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
    limit = abandon_limit((split_key(k)[1] for k in keys), now.date())
    if limit is None:
        return None
    since = now - timedelta(days=limit.window_days)
    counts = fetch_one(conn, "campaign_abandon_rate", {"campaign_id": campaign.id, "since": since})
    if counts["summed"] > counts["hours"] + FOLD_COUNT_ROWS_OVER and not _in_transaction(conn):
        execute(conn, "campaign_abandon_fold", {"campaign_id": campaign.id, "since": since})
    rate = counts["abandoned"] / counts["live"] if counts["live"] else 0.0
    return {
        "abandoned": counts["abandoned"],
        "live_answers": counts["live"],
        "rate": round(rate, 4),
        "limit": limit.max_rate,
        "window_days": limit.window_days,
        "source": limit.citation,
        "exceeded": rate > limit.max_rate,
    }


# An idle poke (nothing ingested, the guard not holding) measures the rate again only this often:
# the rate moves with new results, which a poke measures at once, and with its window sliding.
ABANDON_RATE_RECHECK = timedelta(seconds=60)


def abandonment_guard(
    conn, campaign: Campaign, run: RunContext, now: datetime, ingested: int = 0, state: dict | None = None
) -> dict | None:
    """Measure the rate and record a crossing; alert once when it goes over the limit. Returns
    the measurement, or None when this poke had no need to measure (the guard is not holding).

    The alert is published inside the transaction that records the crossing: if SNS refuses it,
    the crossing is not recorded and the next poke alerts again, so it is never lost. ``state`` is
    the guard's row as this poke already read it (campaign_poke_state.sql)."""
    from include.campaigns.notification import publish

    if state is None:
        state = fetch_one(conn, "campaign_abandon_guard_get", {"campaign_id": campaign.id})
    checked = state["abandon_rate_checked_at"]
    if (
        not ingested
        and state["abandon_guard_since"] is None
        and checked is not None
        and now - ABANDON_RATE_RECHECK < checked <= now
    ):
        return None
    measured = abandonment(conn, campaign, now)
    if measured is None:
        return None
    with conn.transaction():
        change = fetch_one(
            conn, "campaign_abandon_guard_set", {"campaign_id": campaign.id, "exceeded": measured["exceeded"]}
        )
        if change["crossed"]:
            publish(
                campaign=campaign,
                run_id=run.run_id,
                outcome=Outcome.ABANDON_RATE_EXCEEDED,
                summary=(
                    f"abandonment rate {measured['rate']:.1%} is over the {measured['limit']:.0%} limit "
                    f"over {measured['window_days']} days; no new dial tasks until it is back under"
                ),
                details=measured,
            )
    if change["crossed"]:
        log.warning(
            "Campaign %s: abandonment rate %.2f%% over its %.0f%% limit; top-ups held back",
            campaign.slug,
            100 * measured["rate"],
            100 * measured["limit"],
        )
    elif change["cleared"]:
        log.info("Campaign %s: abandonment rate back under its limit; top-ups resume", campaign.slug)
    return measured


def poke(conn, campaign_id: int, run: RunContext, *, now: datetime | None = None) -> PokeResult:
    started = time.monotonic()
    now = now or datetime.now(timezone.utc)
    campaign = load_campaign(conn, campaign_id)
    # An idle poke finds nothing to ingest, nothing to expire and the guard at rest in one probe,
    # and runs none of the statements that would write.
    state = fetch_one(conn, "campaign_poke_state", _expiry_params(campaign))
    ingested, _ = ingest(conn, campaign, now, waiting=state["waiting"])
    expired = expire_tasks(conn, campaign) if state["expirable"] else 0

    result = PokeResult(done=False, outcome=None, counts={}, ingested=ingested, expired_tasks=expired)
    status = campaign.status
    # Over the abandonment-rate limit, nothing new is sent until the rate is back under it.
    result.abandonment = abandonment_guard(conn, campaign, run, now, ingested, state) if run.may_send else None
    held_back = bool(result.abandonment and result.abandonment["exceeded"])
    if run.may_send and status not in ("cancelled", "paused") and now < run.run_end and not held_back:
        # The top-up claims only while the poke is young; the next poke goes on from there.
        budget = max(0.0, TOP_UP_CLAIMS_UNTIL_S - (time.monotonic() - started))
        sent = dispatch(conn, campaign, run, now=now, time_budget_s=budget)
        result.dispatched = sent.sent + sent.resent
    counts = status_counts(conn, campaign_id)
    verdict = decide(_facts(conn, campaign, run, now, counts))
    _apply(conn, campaign_id, verdict)
    result.done, result.outcome, result.note = verdict.done, verdict.outcome, verdict.note
    result.campaign_ended = verdict.campaign_ended
    if not run.live:
        result.note = run.not_live_reason
    result.counts = status_counts(conn, campaign_id) if verdict.expire_unreached else counts
    execute(
        conn,
        "campaign_progress_insert",
        {
            "campaign_id": campaign_id,
            "run_id": run.run_id,
            "counts": json.dumps(result.counts),
            "dispatched": result.dispatched,
            "ingested": ingested,
        },
    )
    log.info(
        "Campaign %s poke: %s; ingested %d, dispatched %d, expired %d%s",
        campaign.slug,
        json.dumps(result.counts, sort_keys=True),
        ingested,
        result.dispatched,
        expired,
        f"; finished: {result.outcome}" if result.done else "",
    )
    return result
