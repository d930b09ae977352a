"""Dispatch: claim the eligible contacts in PostgreSQL, send them as dial tasks to SQS, mark them sent.

The order of operations is what makes it safe:

1. resend what an earlier dispatcher claimed but never marked sent, under the same ids;
2. claim new contacts in one ``FOR UPDATE SKIP LOCKED`` statement, up to the hopper level;
3. drop any claimed number on the Redis opt-out set (PostgreSQL's list is part of the claim);
4. send with ``SendMessageBatch`` and retry only the entries that failed;
5. mark sent what SQS accepted.

A crash anywhere leaves claimed-but-unsent rows that step 1 picks up. A send that succeeded but
was not marked sent is resent with the same ``dial_attempt_id``, which FIFO queues deduplicate
and the dialer treats as the idempotency key.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from include.campaigns import blacklist
from include.campaigns.calling_window import legal_rule, open_keys, split_key
from include.campaigns.config import CampaignConfig, parse_config
from include.campaigns.db import execute, fetch_all, fetch_one
from include.campaigns.phones import InvalidPhone, mask, resolve
from include.campaigns.runs import RunContext

log = logging.getLogger(__name__)

MESSAGE_VERSION = 1
SQS_BATCH = 10                  # the SendMessageBatch maximum
CLAIM_CHUNK = 500               # contacts claimed per statement
MARK_SENT_EVERY = 100           # dial tasks marked sent per UPDATE
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


def load_campaign(conn, campaign_id: int) -> dict:
    campaign = fetch_one(conn, "campaign_get", {"campaign_id": campaign_id})
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist")
    return campaign


def resolve_contacts(conn, campaign: dict) -> dict[str, int]:
    """Check each new contact's number once and store its zones, jurisdiction and window keys."""
    resolved = invalid = 0
    while True:
        rows = fetch_all(conn, "contacts_unresolved", {"campaign_id": campaign["id"], "limit": RESOLVE_CHUNK})
        if not rows:
            return {"resolved": resolved, "invalid": invalid}
        ok: dict[str, list] = {"ids": [], "timezones": [], "jurisdictions": [], "keys": []}
        bad: dict[str, list] = {"ids": [], "reasons": []}
        for row in rows:
            try:
                info = resolve(row["phone"], timezone=row["timezone"], region=row["region"],
                               fallback_timezone=campaign["timezone"])
            except InvalidPhone as exc:
                bad["ids"].append(row["id"])
                bad["reasons"].append(f"invalid_phone: {exc}")
                continue
            ok["ids"].append(row["id"])
            ok["timezones"].append(",".join(info.timezones))
            ok["jurisdictions"].append(info.jurisdiction)
            ok["keys"].append(",".join(f"{z}|{info.jurisdiction}" for z in info.timezones))
        with conn.transaction():
            if ok["ids"]:
                execute(conn, "contacts_resolve", ok)
                execute(conn, "contacts_mark_blacklisted_ids", {"ids": ok["ids"]})
            if bad["ids"]:
                execute(conn, "contacts_mark_invalid", bad)
        resolved += len(ok["ids"])
        invalid += len(bad["ids"])
        if bad["ids"]:
            log.info("Marked %d contact(s) invalid, e.g. contact %s", len(bad["ids"]), bad["ids"][0])


def legal_caps(keys) -> dict[str, int]:
    """The per-jurisdiction 24 h attempt caps that apply to these window keys."""
    caps = {}
    for key in keys:
        jurisdiction = split_key(key)[1]
        cap = legal_rule(jurisdiction).max_attempts_24h
        if cap is not None:
            caps[jurisdiction] = cap
    return caps


def dial_task_body(campaign: dict, config: CampaignConfig, row: dict, run_id: str) -> str:
    """The dial-task contract with the dialer (version 1); see the README."""
    return json.dumps({
        "version": MESSAGE_VERSION,
        "dial_attempt_id": row["dial_attempt_id"],
        "campaign_id": campaign["id"],
        "campaign_slug": campaign["slug"],
        "contact_id": row["contact_id"],
        "phone": row["phone"],
        "attempt": row["attempt"],
        "caller_id": config.caller_id,
        "ivr_flow": config.ivr_flow,
        "audio": list(config.audio),
        "not_after": row["not_after"].astimezone(timezone.utc).isoformat(),
        "run_id": run_id,
    }, separators=(",", ":"))


class Sender:
    """Sends claimed dial tasks and marks them sent; shared by fresh claims and resends."""

    def __init__(self, conn, client, queue_url: str | None, campaign: dict, config: CampaignConfig, run_id: str):
        self.conn, self._client, self._queue_url = conn, client, queue_url
        self.campaign, self.config, self.run_id = campaign, config, run_id
        self.redis_available = True

    def _sqs(self) -> tuple[object, str]:
        """The SQS client and queue URL, made on the first send: most pokes send nothing, and
        building the client costs more than the rest of an idle poke."""
        if self._client is None:
            from include.campaigns.resources import sqs_client

            self._client = sqs_client()
        if self._queue_url is None:
            from include.campaigns.resources import dial_queue_url

            self._queue_url = dial_queue_url(self._client, self.config.dial_queue)
        return self._client, self._queue_url

    def screen(self, rows: list[dict]) -> tuple[list[dict], int]:
        """Drop the rows whose number is on the Redis opt-out set; revoke their claims."""
        blocked = blacklist.blocked_phones([r["phone"] for r in rows])
        if blocked is None:
            self.redis_available = False
            return rows, 0
        if not blocked:
            return rows, 0
        revoked = [r["dial_attempt_id"] for r in rows if r["phone"] in blocked]
        with self.conn.transaction():
            execute(self.conn, "dial_tasks_revoke", {"ids": revoked, "reason": "blacklist_redis"})
        log.info("Withheld %d dial task(s) whose number is on the Redis opt-out set", len(revoked))
        return [r for r in rows if r["phone"] not in blocked], len(revoked)

    def _entry(self, index: int, row: dict) -> dict:
        entry = {"Id": str(index), "MessageBody": dial_task_body(self.campaign, self.config, row, self.run_id)}
        if self._sqs()[1].endswith(".fifo"):
            entry["MessageGroupId"] = f"campaign-{self.campaign['id']}"
            entry["MessageDeduplicationId"] = row["dial_attempt_id"]
        return entry

    def _send_batch(self, rows: list[dict]) -> list[tuple[str, str]]:
        pending = {str(i): self._entry(i, row) for i, row in enumerate(rows)}
        ids = {str(i): row["dial_attempt_id"] for i, row in enumerate(rows)}
        sent: list[tuple[str, str]] = []
        for attempt in range(SEND_ATTEMPTS):
            client, queue_url = self._sqs()
            response = client.send_message_batch(QueueUrl=queue_url, Entries=list(pending.values()))
            for ok in response.get("Successful", []):
                sent.append((ids[ok["Id"]], ok["MessageId"]))
                pending.pop(ok["Id"], None)
            if not pending:
                return sent
            failed = response.get("Failed", [])
            log.warning("SQS rejected %d of a batch of %d (%s); retrying those entries",
                        len(failed), len(rows), ", ".join(sorted({f.get("Code", "?") for f in failed})))
            time.sleep(0.2 * 2 ** attempt)
        self._mark_sent(sent)
        raise DispatchIncomplete(
            f"{len(pending)} dial task(s) still rejected by SQS after {SEND_ATTEMPTS} tries; they stay "
            "claimed and are resent, with the same dial_attempt_id, by the next try"
        )

    def _mark_sent(self, sent: list[tuple[str, str]]) -> None:
        if sent:
            execute(self.conn, "dial_tasks_mark_sent",
                    {"ids": [s[0] for s in sent], "message_ids": [s[1] for s in sent]})

    def send(self, rows: list[dict]) -> int:
        """Send rows in batches of 10, marking them sent every hundred or so; return how many."""
        total = 0
        unmarked: list[tuple[str, str]] = []
        for start in range(0, len(rows), SQS_BATCH):
            unmarked.extend(self._send_batch(rows[start:start + SQS_BATCH]))
            if len(unmarked) >= MARK_SENT_EVERY:
                self._mark_sent(unmarked)
                total += len(unmarked)
                unmarked = []
        self._mark_sent(unmarked)
        return total + len(unmarked)


def _claim_params(campaign: dict, config: CampaignConfig, run: RunContext, opened: dict[str, datetime],
                  limit: int, shard: int, shard_count: int, now: datetime) -> dict:
    caps = legal_caps(opened)
    return {"now": now, "no_caps": config.max_attempts_per_24h is None and not caps,
        "campaign_id": campaign["id"], "run_id": run.run_id, "max_attempts": config.max_attempts,
        "open_keys": sorted(opened), "closes_at": json.dumps({k: v.isoformat() for k, v in opened.items()}),
        "cap_24h": config.max_attempts_per_24h, "legal_caps": json.dumps(caps),
        "run_end": run.run_end, "limit": limit, "shard": shard, "shard_count": shard_count,
    }


def dispatch(conn, campaign: dict, run: RunContext, *, now: datetime | None = None, client=None,
             queue_url: str | None = None, shard: int = 0, shard_count: int = 1) -> DispatchResult:
    """Top the campaign's queue up to its hopper level with eligible contacts, in priority order."""
    now = now or datetime.now(timezone.utc)
    config = parse_config(campaign["config"])
    result = DispatchResult()
    resolve_contacts(conn, campaign)
    with conn.transaction():
        fetch_one(conn, "contacts_mark_blacklisted", {"campaign_id": campaign["id"]})

    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign["id"]})]
    opened = open_keys(config.policy, keys, now)
    result.open_window_keys = len(opened)

    # Only a scheduled or active campaign sends; a paused or cancelled one waits or winds down.
    sending_allowed = run.may_send and now < run.run_end and campaign["status"] in SENDING_STATUSES
    if run.dry_run or not sending_allowed:
        if run.dry_run and opened:
            # Exactly what a real dispatch would claim, then rolled back: no second copy of the rules.
            with conn.transaction(force_rollback=True):
                rows = fetch_all(conn, "dial_tasks_claim", _claim_params(
                    campaign, config, run, opened, run.max_contacts or campaign["max_in_flight"], 0, 1, now))
            result.would_dispatch = len(rows)
            result.sample = [mask(r["phone"]) for r in rows[:5]]
        return result

    sender = Sender(conn, client, queue_url, campaign, config, run.run_id)

    # 1. What an earlier try claimed and never sent goes first, under its original ids.
    while True:
        with conn.transaction():
            unsent = fetch_all(conn, "dial_tasks_unsent", {"campaign_id": campaign["id"], "limit": CLAIM_CHUNK,
                                                          "shard": shard, "shard_count": shard_count})
        if not unsent:
            break
        unsent, revoked = sender.screen(unsent)
        result.revoked_redis += revoked
        result.resent += sender.send(unsent)
        log.info("Resent %d dial task(s) claimed by an earlier try", len(unsent))

    # 2. New claims, up to the hopper level and this run's contact limit.
    if not opened:
        log.info("No calling window is open now for campaign %s; nothing to claim", campaign["slug"])
        result.redis_available = sender.redis_available
        return result
    while True:
        counts = fetch_one(conn, "dial_tasks_open_count", {"campaign_id": campaign["id"], "run_id": run.run_id})
        room = campaign["max_in_flight"] - counts["in_flight"]
        if run.max_contacts is not None:
            room = min(room, run.max_contacts - counts["sent_this_run"])
        if room <= 0:
            break
        with conn.transaction():
            claimed = fetch_all(conn, "dial_tasks_claim", _claim_params(
                campaign, config, run, opened, min(room, CLAIM_CHUNK), shard, shard_count, now))
        if not claimed:
            break
        result.claimed += len(claimed)
        claimed, revoked = sender.screen(claimed)
        result.revoked_redis += revoked
        result.sent += sender.send(claimed)
    result.redis_available = sender.redis_available
    if result.sent or result.resent:
        with conn.transaction():
            execute(conn, "campaign_set_status", {"campaign_id": campaign["id"], "status": "active",
                                                  "from_statuses": ["scheduled"]})
    log.info("Dispatched campaign %s: %d sent, %d resent, %d withheld by Redis, %d window key(s) open",
             campaign["slug"], result.sent, result.resent, result.revoked_redis, len(opened))
    return result
