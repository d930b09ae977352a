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

import heapq
import itertools
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from include.campaigns import blacklist
from include.campaigns.blackouts import current_blackouts
from include.campaigns.calling_window import legal_rule, open_keys, split_key
from include.campaigns.config import MAX_DISPATCH_SHARDS, CampaignConfig, parse_config
from include.campaigns.db import execute, fetch_all, fetch_one
from include.campaigns.phones import InvalidPhone, mask, normalize, resolve
from include.campaigns.runs import RunContext

log = logging.getLogger(__name__)

MESSAGE_VERSION = 2
SQS_BATCH = 10                  # the SendMessageBatch maximum
CLAIM_CHUNK = 1000              # contacts claimed per statement
BUDGETED_CLAIM_CHUNK = 250      # ... under a time budget: a finer step overshoots the budget less
# Contacts claimed per transaction when the claim locks its numbers: each number is one entry in
# PostgreSQL's shared lock table (max_locks_per_transaction x max_connections entries in all),
# so many dispatchers claiming 1,000 numbers each at once could fill it.
LOCKED_CLAIM_STEP = 200
CLAIMS_AHEAD = 2                # chunks claimed ahead of the sends: smooths a slow claim
WALK_PAGE = 2000                # contacts read per page of one zone's claim-order walk
MARK_SENT_EVERY = 500           # dial tasks marked sent per UPDATE
SEND_ATTEMPTS = 5               # per batch, for the entries SQS reports as failed
RESOLVE_CHUNK = 5000
SENDING_STATUSES = ("scheduled", "active")


class DispatchIncomplete(RuntimeError):
    """Some claimed dial tasks could not be sent; they stay claimed and the next try resends them."""


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


def load_campaign(conn, campaign_id: int) -> dict:
    campaign = fetch_one(conn, "campaign_get", {"campaign_id": campaign_id})
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist")
    return campaign


def resolve_contacts(conn, campaign: dict) -> dict[str, int]:
    """Check each new contact's number once: store it in E.164 (the one form every list is
    matched in) with its zones, jurisdiction and window keys. A number another contact of the
    campaign already has makes the later one invalid (``duplicate_phone``): one number, one
    contact, dialed once."""
    resolved = invalid = 0
    while True:
        rows = fetch_all(conn, "contacts_unresolved", {"campaign_id": campaign["id"], "limit": RESOLVE_CHUNK})
        if not rows:
            return {"resolved": resolved, "invalid": invalid}
        ok: dict[str, list] = {"ids": [], "phones": [], "timezones": [], "jurisdictions": [], "keys": []}
        bad: dict[str, list] = {"ids": [], "reasons": []}
        chosen: dict[str, dict] = {}
        for row in rows:
            try:
                e164 = normalize(row["phone"])
                info = resolve(e164, timezone=row["timezone"], region=row["region"],
                               fallback_timezone=campaign["timezone"])
            except InvalidPhone as exc:
                bad["ids"].append(row["id"])
                bad["reasons"].append(f"invalid_phone: {exc}")
                continue
            # Within the chunk, the contact already written in E.164 keeps the number, else the first.
            rival = chosen.get(e164)
            if rival is not None and (rival["phone"] == e164 or row["phone"] != e164):
                bad["ids"].append(row["id"])
                bad["reasons"].append("duplicate_phone")
                continue
            if rival is not None:
                bad["ids"].append(rival["id"])
                bad["reasons"].append("duplicate_phone")
            chosen[e164] = {"id": row["id"], "phone": row["phone"], "info": info}
        for e164, pick in chosen.items():
            info = pick["info"]
            ok["ids"].append(pick["id"])
            ok["phones"].append(e164)
            ok["timezones"].append(",".join(info.timezones))
            ok["jurisdictions"].append(info.jurisdiction)
            ok["keys"].append(",".join(f"{z}|{info.jurisdiction}" for z in info.timezones))
        duplicates = 0
        with conn.transaction():
            if ok["ids"]:
                duplicates = fetch_one(conn, "contacts_resolve", ok)["duplicates"]
                execute(conn, "contacts_mark_blacklisted_ids", {"ids": ok["ids"]})
                if parse_config(campaign["config"]).requires_consent:
                    execute(conn, "contacts_mark_no_consent_ids", {"ids": ok["ids"]})
            if bad["ids"]:
                execute(conn, "contacts_mark_invalid", bad)
        resolved += len(ok["ids"]) - duplicates
        invalid += len(bad["ids"]) + duplicates
        if bad["ids"] or duplicates:
            log.info("Marked %d contact(s) invalid (%d duplicate number(s)), e.g. contact %s",
                     len(bad["ids"]) + duplicates, duplicates + bad["reasons"].count("duplicate_phone"),
                     (bad["ids"] or ok["ids"])[0])


def legal_caps(keys) -> dict[str, int]:
    """The per-jurisdiction 24 h attempt caps that apply to these window keys."""
    caps = {}
    for key in keys:
        jurisdiction = split_key(key)[1]
        cap = legal_rule(jurisdiction).max_attempts_24h
        if cap is not None:
            caps[jurisdiction] = cap
    return caps


class DialTaskEncoder:
    """The dial-task contract with the dialer (version 2; see the README) as JSON.

    What every task of a run shares (the campaign, caller id, IVR flow, audio, run) is encoded
    once; an IVR flow can be a large graph, and encoding it per message would cost more than
    sending the message.
    """

    def __init__(self, campaign: dict, config: CampaignConfig, run_id: str):
        shared = json.dumps({
            "campaign_id": campaign["id"], "campaign_slug": campaign["slug"], "caller_id": config.caller_id,
            "ivr_flow": config.ivr_flow, "audio": list(config.audio), "run_id": run_id,
        }, separators=(",", ":"))
        self._shared = shared[1:]    # '"campaign_id":...}': appended to each task's own fields

    def __call__(self, row: dict) -> str:
        own = json.dumps({
            "version": MESSAGE_VERSION,
            "dial_attempt_id": row["dial_attempt_id"],
            "contact_id": row["contact_id"],
            "phone": row["phone"],
            "attempt": row["attempt"],
            "not_after": row["not_after"].astimezone(timezone.utc).isoformat(),
        }, separators=(",", ":"))
        return own[:-1] + "," + self._shared


def dial_task_body(campaign: dict, config: CampaignConfig, row: dict, run_id: str) -> str:
    """One dial task's message body; a sender keeps a DialTaskEncoder instead."""
    return DialTaskEncoder(campaign, config, run_id)(row)


class Sender:
    """Sends claimed dial tasks and marks them sent; shared by fresh claims and resends."""

    def __init__(self, conn, client, queue_url: str | None, campaign: dict, config: CampaignConfig, run_id: str):
        self.conn, self._client, self._queue_url = conn, client, queue_url
        self.campaign, self.config, self.run_id = campaign, config, run_id
        self.redis_available = True
        self._unmarked: list[tuple[str, str]] = []
        self._encode = DialTaskEncoder(campaign, config, run_id)

    def _sqs(self) -> tuple[Any, str]:
        """The SQS client and queue URL, made on the first send: most pokes send nothing, and
        building the client costs more than the rest of an idle poke."""
        if self._client is None:
            from include.campaigns.resources import sqs_client

            self._client = sqs_client()
        if self._queue_url is None:
            from include.campaigns.resources import dial_queue_url

            self._queue_url = dial_queue_url(self._client, self.config.dial_queue)
        return self._client, self._queue_url

    def screen(self, rows: list[dict], conn=None) -> tuple[list[dict], int]:
        """Withhold the rows whose number a list blocks at this moment: PostgreSQL's blacklist
        (global and this campaign's, unexpired; one statement) and the Redis opt-out set (one
        round trip). Their claims are revoked with the reason; a resend is screened the same way
        as a fresh claim, since an entry may have arrived in between."""
        if not rows:
            return rows, 0
        conn = conn or self.conn
        phones = [r["phone"] for r in rows]
        reasons = {r["phone"]: r["reason"] for r in fetch_all(
            conn, "blacklist_blocked", {"phones": phones, "campaign_id": self.campaign["id"]})}
        on_redis = blacklist.blocked_phones(phones)
        if on_redis is None:
            self.redis_available = False
        else:
            for phone in on_redis:
                reasons.setdefault(phone, "blacklist_redis")
        if not reasons:
            return rows, 0
        revoked = [r for r in rows if r["phone"] in reasons]
        with conn.transaction():
            execute(conn, "dial_tasks_revoke", {"ids": [r["dial_attempt_id"] for r in revoked],
                                                "reasons": [reasons[r["phone"]] for r in revoked]})
        log.info("Withheld %d dial task(s) whose number a blacklist or the opt-out set now blocks (%s)",
                 len(revoked), ", ".join(sorted(set(reasons.values()))))
        return [r for r in rows if r["phone"] not in reasons], len(revoked)

    def _entry(self, index: int, row: dict, fifo: bool) -> dict:
        entry = {"Id": str(index), "MessageBody": self._encode(row)}
        if fifo:
            entry["MessageGroupId"] = f"campaign-{self.campaign['id']}"
            entry["MessageDeduplicationId"] = row["dial_attempt_id"]
        return entry

    def _send_batch(self, rows: list[dict]) -> None:
        """Send up to 10 rows; what SQS accepts goes on the unmarked list at once, so that it is
        marked sent even if a later entry of the batch is never accepted."""
        client, queue_url = self._sqs()
        fifo = queue_url.endswith(".fifo")
        pending = {str(i): self._entry(i, row, fifo) for i, row in enumerate(rows)}
        ids = {str(i): row["dial_attempt_id"] for i, row in enumerate(rows)}
        for attempt in range(SEND_ATTEMPTS):
            response = client.send_message_batch(QueueUrl=queue_url, Entries=list(pending.values()))
            for ok in response.get("Successful", []):
                self._unmarked.append((ids[ok["Id"]], ok["MessageId"]))
                pending.pop(ok["Id"], None)
            if not pending:
                return
            failed = response.get("Failed", [])
            log.warning("SQS rejected %d of a batch of %d (%s); retrying those entries",
                        len(failed), len(rows), ", ".join(sorted({f.get("Code", "?") for f in failed})))
            time.sleep(0.2 * 2 ** attempt)
        raise DispatchIncomplete(
            f"{len(pending)} dial task(s) still rejected by SQS after {SEND_ATTEMPTS} tries; they stay "
            "claimed and are resent, with the same dial_attempt_id, by the next try"
        )

    def take_unmarked(self) -> list[tuple[str, str]]:
        unmarked, self._unmarked = self._unmarked, []
        return unmarked

    @staticmethod
    def mark_sent(conn, sent: list[tuple[str, str]]) -> None:
        for start in range(0, len(sent), MARK_SENT_EVERY):
            chunk = sent[start:start + MARK_SENT_EVERY]
            execute(conn, "dial_tasks_mark_sent", {"ids": [s[0] for s in chunk], "message_ids": [s[1] for s in chunk]})

    def send_unmarked(self, rows: list[dict]) -> list[tuple[str, str]]:
        """Send rows in batches of 10 and return (dial_attempt_id, message id) of each, unmarked."""
        for start in range(0, len(rows), SQS_BATCH):
            self._send_batch(rows[start:start + SQS_BATCH])
        return self.take_unmarked()

    def send(self, rows: list[dict]) -> int:
        """Send rows and mark them sent on this sender's connection; return how many."""
        total = 0
        try:
            for start in range(0, len(rows), MARK_SENT_EVERY):
                sent = self.send_unmarked(rows[start:start + MARK_SENT_EVERY])
                self.mark_sent(self.conn, sent)
                total += len(sent)
        finally:
            self.mark_sent(self.conn, self.take_unmarked())
        return total


class Claimer:
    """A campaign's eligible contacts, claimed chunk by chunk in claim order.

    The order is the operator's priority, then the answer model's score (the answer rate of the
    contact's local hour of week now x the contact's affinity), then fewer attempts, then the
    oldest contact. At one instant the hour rate is one number per time zone, so each open zone
    is read in its own index order (contacts_claim_order_idx, in keyset pages) and the zones are
    merged here: a dispatch reads about as many contacts as it claims, whatever the campaign's
    size, and never sorts the campaign.
    """

    FIRST_KEY = (-2**31, float("-inf"), -1, 0)   # before any contact in the walk order

    def __init__(self, conn, campaign: dict, config: CampaignConfig, run: RunContext,
                 opened: dict[str, datetime], now: datetime, *, shard: int = 0, shard_count: int = 1,
                 page: int = 1000):
        self.conn, self.page = conn, page
        caps = legal_caps(opened)
        # Another campaign may place one of these numbers where a stricter legal cap applies (it
        # has the person's address): the cap of the number is the lowest any of its contacts has.
        elsewhere = legal_caps(f"|{r['jurisdiction']}" for r in fetch_all(conn, "dial_tasks_claim_jurisdictions"))
        self.rules = {
            "campaign_id": campaign["id"], "max_attempts": config.max_attempts, "open_keys": sorted(opened),
            "no_caps": config.max_attempts_per_24h is None and not caps and not elsewhere,
            "cap_24h": config.max_attempts_per_24h,
            "legal_caps": json.dumps({**elsewhere, **caps}), "shard": shard, "shard_count": shard_count,
        }
        self.task = {"run_id": run.run_id, "run_end": run.run_end, "max_contacts": run.max_contacts,
                     "closes_at": json.dumps({k: v.isoformat() for k, v in opened.items()})}
        self.locks = {"campaign_id": campaign["id"], "run_id": run.run_id, "max_contacts": run.max_contacts,
                      "own_cap": config.max_attempts_per_24h is not None,
                      "capped_jurisdictions": sorted(caps.keys() | elsewhere.keys())}
        self.step = (LOCKED_CLAIM_STEP if not self.rules["no_caps"]
                     or fetch_one(conn, "campaigns_capped_live")["capped"] else None)
        zones = sorted({split_key(k)[0] for k in opened})
        rates = fetch_all(conn, "claim_zone_rates", {"zones": zones, "now": now})
        self._next = heapq.merge(*(self._walk(r["zone"], r["rate"]) for r in rates))
        self.exhausted = not zones

    def _walk(self, zone: str, rate: float):
        after = self.FIRST_KEY
        while True:
            rows = fetch_all(self.conn, "dial_tasks_claim_walk", {
                **self.rules, "zone": zone, "limit": self.page, "after_priority": after[0],
                "after_affinity": after[1], "after_attempts": after[2], "after_id": after[3]})
            for r in rows:
                yield -r["priority"], -rate * r["affinity"], r["attempts"], r["id"]
            if len(rows) < self.page:
                return
            last = rows[-1]
            after = (-last["priority"], -last["affinity"], last["attempts"], last["id"])

    def claim(self, limit: int) -> list[dict]:
        """Claim up to ``limit`` of the next contacts, committed; fewer if some were taken or
        changed since they were read, or the run's contact limit is reached. ``exhausted`` says
        when none are left to read.

        The claim's numbers are locked first, in their own statement of the claim's transaction,
        so that the claim statement's snapshot sees every concurrent claim of them committed: the
        24 h caps and the run's limit hold for any number of dispatchers claiming at once. A claim
        that locks its numbers commits every LOCKED_CLAIM_STEP of them."""
        ids = [key[3] for key in itertools.islice(self._next, limit)]
        if len(ids) < limit:
            self.exhausted = True
        if not ids:
            return []
        rows: list[dict] = []
        step = self.step or len(ids)
        for start in range(0, len(ids), step):
            some = ids[start:start + step]
            with self.conn.transaction():
                fetch_one(self.conn, "dial_tasks_claim_lock", {**self.locks, "ids": some})
                rows += fetch_all(self.conn, "dial_tasks_claim", {**self.rules, **self.task, "ids": some})
        if self.task["max_contacts"] is not None and len(rows) < len(ids) and not self.exhausted:
            # Short: taken by someone else, changed since read, or the run's limit is reached.
            counts = fetch_one(self.conn, "dial_tasks_open_count", {
                "campaign_id": self.rules["campaign_id"], "run_id": self.task["run_id"], "count_run": True})
            self.exhausted = counts["sent_this_run"] >= self.task["max_contacts"]
        return rows


def _hopper_room(conn, campaign: dict, run: RunContext, shard_count: int) -> int:
    """How many dial tasks this dispatcher may claim now: the hopper's free room, capped by the
    run's contact limit. A shard takes its share rounded down, so shards never overfill the
    hopper together; the sensor's top-up (one dispatcher) fills what rounding leaves. The limit
    read here is only a first bound: shards read it at once, and the claim statement enforces the
    run's limit under the run's lock (dial_tasks_claim_lock.sql)."""
    counts = fetch_one(conn, "dial_tasks_open_count", {"campaign_id": campaign["id"], "run_id": run.run_id,
                                                       "count_run": run.max_contacts is not None})
    room = campaign["max_in_flight"] - counts["in_flight"]
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


def claim_and_send(claimer_args: dict, sender: Sender, room: int, deadline: float | None,
                   result: DispatchResult) -> None:
    """Claim up to ``room`` contacts chunk by chunk and send them, the database work of the next
    chunk overlapping the sends of this one.

    A second connection claims the next chunk (and marks the last one sent) while this thread
    talks to SQS: the two take about as long as each other, so overlapping them nearly halves a
    large dispatch. Safety is unchanged: every claim is committed before its rows are sent, so a
    crash at any point leaves claimed-but-unsent rows that the next try resends under the same
    ids; at most CLAIMS_AHEAD chunks are claimed ahead of the sends.
    """
    from concurrent.futures import ThreadPoolExecutor

    from include.campaigns.db import campaign_db

    with campaign_db() as background, ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim") as pool:
        # One worker thread on one connection: its claims and marks run in the order submitted.
        chunk = CLAIM_CHUNK if deadline is None else BUDGETED_CLAIM_CHUNK
        # Every open zone reads a first page, so a page larger than what is likely to be claimed is
        # read for nothing: a budgeted top-up claims a chunk or two.
        page = min(max(room if deadline is None else chunk, 100), WALK_PAGE)
        claimer = pool.submit(Claimer, background, **claimer_args, page=page).result()
        marks = []
        claims: deque = deque()           # (future, limit) of the claims submitted, oldest first
        unrequested = room
        ahead = CLAIMS_AHEAD if deadline is None else 1   # a budgeted top-up claims one at a time

        def request_claims() -> None:
            nonlocal unrequested
            out_of_time = deadline is not None and time.monotonic() >= deadline and result.claimed
            while (len(claims) < ahead and unrequested > 0 and not claimer.exhausted
                   and not out_of_time):
                limit = min(unrequested, chunk)
                unrequested -= limit
                claims.append((pool.submit(_claim_and_screen, claimer, sender, limit), limit))

        request_claims()
        try:
            while claims:
                future, limit = claims.popleft()
                rows, claimed, revoked = future.result()
                result.claimed += claimed
                result.revoked_redis += revoked
                unrequested += limit - claimed       # taken by someone else, or none left
                request_claims()
                sent = sender.send_unmarked(rows)
                marks.append(pool.submit(sender.mark_sent, background, sent))
                result.sent += len(sent)
        finally:
            # Whatever happened, what SQS accepted is marked sent before we leave.
            unmarked = sender.take_unmarked()
            if unmarked:
                marks.append(pool.submit(sender.mark_sent, background, unmarked))
            for future, _ in claims:
                future.exception()   # let claims in flight finish: they are committed, and resent later
            for mark in marks:
                mark.result()


def dispatch(conn, campaign: dict, run: RunContext, *, now: datetime | None = None, client=None,
             queue_url: str | None = None, shard: int = 0, shard_count: int = 1,
             time_budget_s: float | None = None) -> DispatchResult:
    """Top the campaign's queue up to its hopper level with eligible contacts, in priority order.

    ``time_budget_s`` bounds the claiming (a sensor poke passes what is left of its own budget):
    no claim starts once it is spent, the one in flight is still sent, and the next call goes on
    where this one stopped. At least one chunk is claimed, so a campaign always moves.
    """
    deadline = time.monotonic() + time_budget_s if time_budget_s is not None else None
    now = now or datetime.now(timezone.utc)
    config = parse_config(campaign["config"])
    result = DispatchResult()
    resolve_contacts(conn, campaign)
    with conn.transaction():
        fetch_one(conn, "contacts_mark_blacklisted", {"campaign_id": campaign["id"]})

    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign["id"]})]
    # Declared blackouts are read on every call: a new one closes its keys at the next poke.
    opened = open_keys(config.policy, keys, now, blackouts=current_blackouts(conn, now))
    result.open_window_keys = len(opened)

    claimer_args: dict[str, Any] = {"campaign": campaign, "config": config, "run": run, "opened": opened, "now": now,
                    "shard": shard, "shard_count": shard_count}

    # Only a scheduled or active campaign sends; a paused or cancelled one waits or winds down.
    sending_allowed = run.may_send and now < run.run_end and campaign["status"] in SENDING_STATUSES
    if run.dry_run or not sending_allowed:
        # A dry run is answered once, for the whole campaign, by the first shard.
        if run.dry_run and opened and shard == 0:
            # Exactly what a real dispatch would claim, then rolled back: no second copy of the rules.
            limit = run.max_contacts or campaign["max_in_flight"]
            rows: list[dict] = []
            with conn.transaction(force_rollback=True):
                claimer = Claimer(conn, **{**claimer_args, "shard": 0, "shard_count": 1},
                                  page=min(max(limit, 100), WALK_PAGE))
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
    lock = {"campaign_id": campaign["id"],
            "shards": [shard] if shard_count > 1 else list(range(MAX_DISPATCH_SHARDS))}
    held = [r["shard"] for r in fetch_all(conn, "dispatcher_lock", lock) if r["locked"]]
    if len(held) < len(lock["shards"]):
        fetch_all(conn, "dispatcher_unlock", {**lock, "shards": held})
    else:
        try:
            while True:
                with conn.transaction():
                    unsent = fetch_all(conn, "dial_tasks_unsent", {
                        "campaign_id": campaign["id"], "limit": CLAIM_CHUNK, "shard": shard, "shard_count": shard_count})
                if not unsent:
                    break
                unsent, revoked = sender.screen(unsent)
                result.revoked_redis += revoked
                result.resent += sender.send(unsent)
                log.info("Resent %d dial task(s) claimed by an earlier try", len(unsent))

            # 2. New claims, up to the hopper level and this run's contact limit.
            if not opened:
                log.info("No calling window is open now for campaign %s; nothing to claim", campaign["slug"])
            elif (room := _hopper_room(conn, campaign, run, shard_count)) > 0:
                claim_and_send(claimer_args, sender, room, deadline, result)
        finally:
            fetch_all(conn, "dispatcher_unlock", lock)
    if len(held) < len(lock["shards"]):
        log.warning("Another dispatcher of campaign %s (shard %d of %d) is running; this one sends nothing",
                    campaign["slug"], shard, shard_count)
    result.redis_available = sender.redis_available
    if result.sent or result.resent:
        with conn.transaction():
            execute(conn, "campaign_set_status", {"campaign_id": campaign["id"], "status": "active",
                                                  "from_statuses": ["scheduled"]})
    log.info("Dispatched campaign %s: %d sent, %d resent, %d withheld by Redis, %d window key(s) open",
             campaign["slug"], result.sent, result.resent, result.revoked_redis, len(opened))
    return result
