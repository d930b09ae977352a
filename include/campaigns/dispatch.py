"""Dispatch: claim the eligible contacts in PostgreSQL, send them as dial tasks to SQS, mark them sent.

The order of operations is what makes it safe:

1. resend what an earlier dispatcher claimed but never marked sent, under the same ids;
2. claim new contacts in one ``FOR UPDATE SKIP LOCKED`` statement, up to the hopper level;
3. drop any claimed number a blacklist entry or the Redis opt-out set blocks at this moment (the
   claim checked PostgreSQL's list too, but an entry may arrive between a claim and its send);
4. send with ``SendMessageBatch`` and retry only the entries that failed;
5. mark sent what SQS accepted.

A crash anywhere leaves claimed-but-unsent rows that step 1 picks up. A send that succeeded but
was not marked sent is resent with the same ``dial_attempt_id``, which FIFO queues deduplicate
and the dialer treats as the idempotency key.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from include.campaigns.blackouts import current_blackouts
from include.campaigns.calling_window import open_keys
from include.campaigns.campaign import Campaign
from include.campaigns.claim import Claimer
from include.campaigns.config import MAX_DISPATCH_SHARDS, CampaignConfig
from include.campaigns.db import execute, fetch_all, fetch_one
from include.campaigns.phones import mask
from include.campaigns.resolution import resolve_contacts
from include.campaigns.resources import dial_queue
from include.campaigns.runs import RunContext
from include.campaigns.send_process import SEND_PROCESS_MIN_ROOM, SendProcess, connection_spec
from include.campaigns.sender import DialTaskEncoder, Sender
from include.campaigns.sqs_batches import DispatchIncomplete, message_group

log = logging.getLogger(__name__)

CLAIM_CHUNK = 1000  # contacts claimed per statement
BUDGETED_CLAIM_CHUNK = 250  # ... under a time budget: a finer step overshoots the budget less
CLAIMS_AHEAD = 2  # chunks claimed ahead of the sends: smooths a slow claim
WALK_PAGE = 2000  # contacts read per page of one zone's claim-order walk
SENDING_STATUSES = ("scheduled", "active")
ABORT_GRACE_S = 2.0  # how long a failing dispatch lets its sending process finish the batch in hand


@dataclass
class DispatchResult:
    resent: int = 0
    claimed: int = 0
    sent: int = 0
    revoked_redis: int = 0
    redis_available: bool = True
    would_dispatch: int = 0
    open_window_keys: int = 0
    sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def merge_results(results) -> dict:
    """One dispatch result from the shards' results (a mapped task's XComs)."""
    merged = DispatchResult()
    for result in results:
        for key, value in result.items():
            if key == "sample":
                merged.sample = (merged.sample + list(value))[:5]
            elif key == "redis_available":
                merged.redis_available = merged.redis_available and value
            elif key == "open_window_keys":
                merged.open_window_keys = max(merged.open_window_keys, value)
            else:
                setattr(merged, key, getattr(merged, key) + value)
    return merged.as_dict()


def _hopper_room(conn, campaign: Campaign, run: RunContext, shard_count: int) -> int:
    """How many dial tasks this dispatcher may claim now: the hopper's free room, capped by the
    run's contact limit. A shard takes its share rounded down, so shards never overfill the
    hopper together; the sensor's top-up (one dispatcher) fills what rounding leaves. The limit
    read here is only a first bound: shards read it at once, and the claim statement enforces the
    run's limit under the run's lock (dial_tasks_claim_lock.sql)."""
    counts = fetch_one(
        conn,
        "dial_tasks_open_count",
        {"campaign_id": campaign.id, "run_id": run.run_id, "count_run": run.max_contacts is not None},
    )
    room = campaign.max_in_flight - counts["in_flight"]
    if shard_count > 1:
        room //= shard_count
    if run.max_contacts is not None:
        room = min(room, run.max_contacts - counts["sent_this_run"])
    return max(room, 0)


def _claim_and_screen(claimer: Claimer, sender: Sender, limit: int) -> tuple[list[dict], int, int]:
    """One claim, committed, then the Redis screen: (rows to send, claimed, withheld)."""
    rows = claimer.claim(limit)
    claimed = len(rows)
    rows, revoked = sender.screen(rows, claimer.conn)
    return rows, claimed, revoked


@dataclass(frozen=True)
class ClaimScope:
    """What one dispatcher claims for: the campaign, its run, the window keys open now, its shard."""

    campaign: Campaign
    config: CampaignConfig
    run: RunContext
    opened: dict[str, datetime]
    now: datetime
    shard: int = 0
    shard_count: int = 1

    def claimer(self, conn, *, page: int) -> Claimer:
        return Claimer(
            conn,
            self.campaign,
            self.config,
            self.run,
            self.opened,
            self.now,
            shard=self.shard,
            shard_count=self.shard_count,
            page=page,
        )


def claim_and_send(
    scope: ClaimScope,
    sender: Sender,
    room: int,
    deadline: float | None,
    result: DispatchResult,
    process: SendProcess | None = None,
) -> None:
    """Claim up to ``room`` contacts chunk by chunk and send them, the database work of the next
    chunk overlapping the sends of this one.

    A second connection claims the next chunk (and marks the last one sent) while this thread
    talks to SQS: the two take about as long as each other, so overlapping them nearly halves a
    large dispatch. Safety is unchanged: every claim is committed before its rows are sent, so a
    crash at any point leaves claimed-but-unsent rows that the next try resends under the same
    ids; at most CLAIMS_AHEAD chunks are claimed ahead of the sends.

    A large dispatch sends from a sending process (send_process.py, started by dispatch), which
    reports what SQS accepted; this thread then only encodes and hands rows over.
    """
    from concurrent.futures import ThreadPoolExecutor

    from include.campaigns.db import campaign_db

    with campaign_db() as background, ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim") as pool:
        # One worker thread on one connection: its claims and marks run in the order submitted.
        chunk = CLAIM_CHUNK if deadline is None else BUDGETED_CLAIM_CHUNK
        # Every open zone reads a first page, so a page larger than what is likely to be claimed is
        # read for nothing: a budgeted top-up claims a chunk or two.
        page = min(max(room if deadline is None else chunk, 100), WALK_PAGE)
        claimer_future = pool.submit(scope.claimer, background, page=page)
        if process is not None and (deadline is not None or room < SEND_PROCESS_MIN_ROOM):
            process = None  # not worth it for this much: dispatch stops it
        if process is not None:
            log.info("Sending up to %d dial task(s) from a sending process (pid %d)", room, process.pid)
        marks = []
        claims: deque = deque()  # (future, limit) of the claims submitted, oldest first
        unrequested = room
        ahead = CLAIMS_AHEAD if deadline is None else 1  # a budgeted top-up claims one at a time
        failure = None

        def request_claims() -> None:
            nonlocal unrequested
            out_of_time = deadline is not None and time.monotonic() >= deadline and result.claimed
            stopped = process is not None and process.stopped
            while len(claims) < ahead and unrequested > 0 and not claimer.exhausted and not out_of_time and not stopped:
                limit = min(unrequested, chunk)
                unrequested -= limit
                claims.append((pool.submit(_claim_and_screen, claimer, sender, limit), limit))

        failing = True
        try:
            claimer = claimer_future.result()
            request_claims()
            while claims:
                future, limit = claims.popleft()
                rows, claimed, revoked = future.result()
                result.claimed += claimed
                result.revoked_redis += revoked
                unrequested += limit - claimed  # taken by someone else, or none left
                request_claims()
                if process is None:
                    sent = sender.send_unmarked(rows)
                else:
                    process.send(rows)
                    sent = process.take_accepted()
                marks.append(pool.submit(sender.mark_sent, background, sent))
                result.sent += len(sent)
            failing = False
        finally:
            # Whatever happened, what SQS accepted is marked sent before we leave.
            unmarked = sender.take_unmarked()
            if process is not None:
                # Failing anyway: what the process has not sent in a while stays claimed, and is resent.
                accepted, failure = process.finish(ABORT_GRACE_S if failing else None)
                unmarked += accepted
                result.sent += len(accepted)
            if unmarked:
                marks.append(pool.submit(sender.mark_sent, background, unmarked))
            for future, _ in claims:
                future.exception()  # let claims in flight finish: they are committed, and resent later
            for mark in marks:
                mark.result()
    if failure:
        raise DispatchIncomplete(
            f"the sending process stopped ({failure}); the dial tasks it did not report sent stay "
            "claimed and are resent, with the same dial_attempt_id, by the next try"
        )


def _may_send_from_process(campaign: Campaign, run: RunContext, client, budget: float | None, shards: int) -> bool:
    """Whether this dispatch could claim enough to send from a sending process (the hopper and the
    run's limit bound its room); only with the connection's own client, never in a budgeted poke,
    and only where a core is left for it beside the shards' dispatchers: without one, the sending
    processes only take turns with their own dispatchers."""
    if client is not None or budget is not None or run.dry_run or not run.may_send:
        return False
    if campaign.status not in SENDING_STATUSES:
        return False
    if (os.cpu_count() or 1) <= shards:
        return False
    most = campaign.max_in_flight // max(shards, 1)
    if run.max_contacts is not None:
        most = min(most, run.max_contacts)
    return most >= SEND_PROCESS_MIN_ROOM


def dispatch(
    conn,
    campaign: Campaign,
    run: RunContext,
    *,
    now: datetime | None = None,
    client=None,
    queue_url: str | None = None,
    shard: int = 0,
    shard_count: int = 1,
    time_budget_s: float | None = None,
) -> DispatchResult:
    """Top the campaign's queue up to its hopper level with eligible contacts, in priority order.

    ``time_budget_s`` bounds the claiming (a sensor poke passes what is left of its own budget):
    no claim starts once it is spent, the one in flight is still sent, and the next call goes on
    where this one stopped. At least one chunk is claimed, so a campaign always moves.
    """
    # Started first, so that its start-up (boto3, its client, the queue's URL) overlaps the checks
    # below; stopped unused if the room turns out small.
    process = None
    try:
        if _may_send_from_process(campaign, run, client, time_budget_s, shard_count):
            try:
                process = SendProcess()
            except OSError as exc:  # no process to be had (a limit reached): this one sends itself
                log.warning("Could not start a sending process (%s); sending from the dispatch process", exc)
        if process is not None:
            queue = dial_queue(queue_url or campaign.config.dial_queue)
            spec = connection_spec(queue, message_group(campaign.id, queue))
            process.start(spec, DialTaskEncoder(campaign, campaign.config, run.run_id))
        return _dispatch(conn, campaign, run, now, client, queue_url, shard, shard_count, time_budget_s, process)
    finally:
        if process is not None:
            process.finish(ABORT_GRACE_S)  # used, it has finished already; unused, it has nothing to send


def _dispatch(
    conn,
    campaign: Campaign,
    run: RunContext,
    now: datetime | None,
    client,
    queue_url: str | None,
    shard: int,
    shard_count: int,
    time_budget_s: float | None,
    process: SendProcess | None,
) -> DispatchResult:
    deadline = time.monotonic() + time_budget_s if time_budget_s is not None else None
    now = now or datetime.now(timezone.utc)
    config = campaign.config
    result = DispatchResult()
    resolve_contacts(conn, campaign)
    # The marking statement writes; it runs only when a blacklist entry is new to the campaign.
    if (due := fetch_one(conn, "contacts_mark_blacklisted_due", {"campaign_id": campaign.id}))["due"]:
        fetch_one(conn, "contacts_mark_blacklisted", {"campaign_id": campaign.id, "from_xid": due["from_xid"]})

    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
    # Declared blackouts are read on every call: a new one closes its keys at the next poke.
    opened = open_keys(config.policy, keys, now, blackouts=current_blackouts(conn, now))
    result.open_window_keys = len(opened)

    scope = ClaimScope(campaign, config, run, opened, now, shard, shard_count)

    # Only a scheduled or active campaign sends; a paused or cancelled one waits or winds down.
    sending_allowed = run.may_send and now < run.run_end and campaign.status in SENDING_STATUSES
    if run.dry_run or not sending_allowed:
        # A dry run is answered once, for the whole campaign, by the first shard.
        if run.dry_run and opened and shard == 0:
            # Exactly what a real dispatch would claim, then rolled back: no second copy of the rules.
            limit = run.max_contacts or campaign.max_in_flight
            rows: list[dict] = []
            with conn.transaction(force_rollback=True):
                claimer = replace(scope, shard=0, shard_count=1).claimer(conn, page=min(max(limit, 100), WALK_PAGE))
                while len(rows) < limit and not claimer.exhausted:
                    rows += claimer.claim(min(limit - len(rows), CLAIM_CHUNK))
            result.would_dispatch = len(rows)
            result.sample = [mask(r["phone"]) for r in rows[:5]]
        return result

    sender = Sender(conn, client, queue_url, campaign, config, run.run_id)

    # 1. What an earlier try claimed and never sent goes first, under its original ids. Only when
    #    no other dispatcher of this shard is alive: a live one (a zombie task still running, or
    #    a poke racing the dispatch task) is sending those rows itself, and sending them here too
    #    would dial one attempt twice. The lock is the session's, so a dead process drops it.
    #    A dispatcher of the whole campaign (shard_count 1: the sensor's top-up, or an unsharded
    #    dispatch) needs every shard's lock, or it would resend what a live shard has claimed.
    shards = [shard] if shard_count > 1 else list(range(MAX_DISPATCH_SHARDS))
    lock = {"campaign_id": campaign.id, "shards": shards}
    held = [r["shard"] for r in fetch_all(conn, "dispatcher_lock", lock) if r["locked"]]
    if len(held) < len(shards):
        fetch_all(conn, "dispatcher_unlock", {**lock, "shards": held})
    else:
        try:
            while True:
                with conn.transaction():
                    unsent = fetch_all(
                        conn,
                        "dial_tasks_unsent",
                        {"campaign_id": campaign.id, "limit": CLAIM_CHUNK, "shard": shard, "shard_count": shard_count},
                    )
                if not unsent:
                    break
                unsent, revoked = sender.screen(unsent)
                result.revoked_redis += revoked
                result.resent += sender.send(unsent)
                log.info("Resent %d dial task(s) claimed by an earlier try", len(unsent))

            # 2. New claims, up to the hopper level and this run's contact limit.
            if not opened:
                log.info("No calling window is open now for campaign %s; nothing to claim", campaign.slug)
            elif (room := _hopper_room(conn, campaign, run, shard_count)) > 0:
                claim_and_send(scope, sender, room, deadline, result, process)
        finally:
            fetch_all(conn, "dispatcher_unlock", lock)
    if len(held) < len(shards):
        log.warning(
            "Another dispatcher of campaign %s (shard %d of %d) is running; this one sends nothing",
            campaign.slug,
            shard,
            shard_count,
        )
    result.redis_available = sender.redis_available
    if result.sent or result.resent:
        with conn.transaction():
            execute(
                conn,
                "campaign_set_status",
                {"campaign_id": campaign.id, "status": "active", "from_statuses": ["scheduled"]},
            )
    log.info(
        "Dispatched campaign %s: %d sent, %d resent, %d withheld by Redis, %d window key(s) open",
        campaign.slug,
        result.sent,
        result.resent,
        result.revoked_redis,
        len(opened),
    )
    return result
