"""The dial-task contract's encoder, and the sender that puts claimed dial tasks on SQS and marks
them sent."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from json.encoder import encode_basestring_ascii as _string
from typing import Any

from include.campaigns import blacklist
from include.campaigns.campaign import Campaign
from include.campaigns.config import CampaignConfig
from include.campaigns.db import execute, fetch_all
from include.campaigns.sqs_batches import cut, message_group, send_batch

log = logging.getLogger(__name__)

MESSAGE_VERSION = 2
MARK_SENT_EVERY = 500  # dial tasks marked sent per UPDATE


class DialTaskEncoder:
    """The dial-task contract with the dialer (version 2; see the README) as JSON.

    What every task of a run shares (the campaign, caller id, IVR flow, audio, run) is encoded
    once; an IVR flow can be a large graph, and encoding it per message would cost more than
    sending the message.
    """

    def __init__(self, campaign: Campaign, config: CampaignConfig, run_id: str):
        # A mapping with id and slug will do: validation sizes the largest task from a plain dict.
        shared = json.dumps(
            {
                "campaign_id": campaign.id,
                "campaign_slug": campaign.slug,
                "caller_id": config.caller_id,
                "ivr_flow": config.ivr_flow,
                "audio": list(config.audio),
                "run_id": run_id,
            },
            separators=(",", ":"),
        )
        self._shared = shared[1:]  # '"campaign_id":...}': appended to each task's own fields
        self._instants: dict[tuple[datetime, int], str] = {}

    def __call__(self, row: dict) -> str:
        # The same bytes as json.dumps of the task's own fields, without building a dict per task:
        # strings through json's own escaper, whole numbers as they are, and each instant's
        # ISO form kept, since a run's tasks share a few cut-offs.
        # Keyed with fold: two instants of a repeated hour, in one zone, compare equal without it.
        key = (row["not_after"], row["not_after"].fold)
        not_after = self._instants.get(key)
        if not_after is None:
            not_after = self._instants[key] = _string(row["not_after"].astimezone(timezone.utc).isoformat())
        return (
            f'{{"version":{MESSAGE_VERSION},"dial_attempt_id":{_string(row["dial_attempt_id"])},'
            f'"contact_id":{_whole(row["contact_id"])},"phone":{_string(row["phone"])},'
            f'"attempt":{_whole(row["attempt"])},"not_after":{not_after},{self._shared}'
        )


def _whole(value: int) -> str:
    if type(value) is not int:
        raise TypeError(f"a dial task's ids and attempt are whole numbers, not {type(value).__name__}")
    return str(value)


def dial_task_body(campaign: Campaign, config: CampaignConfig, row: dict, run_id: str) -> str:
    """One dial task's message body; a sender keeps a DialTaskEncoder instead."""
    return DialTaskEncoder(campaign, config, run_id)(row)


class Sender:
    """Sends claimed dial tasks and marks them sent; shared by fresh claims and resends."""

    def __init__(self, conn, client, queue_url: str | None, campaign: Campaign, config: CampaignConfig, run_id: str):
        self.conn, self._client, self._queue_url = conn, client, queue_url
        self.campaign, self.config, self.run_id = campaign, config, run_id
        self.redis_available = True
        self._unmarked: list[tuple[str, str]] = []
        self._opt_outs = blacklist.OptOutScreen()
        self.encode = DialTaskEncoder(campaign, config, run_id)

    def _sqs(self) -> tuple[Any, str]:  # boto3's clients carry no types
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
        reasons = {
            r["phone"]: r["reason"]
            for r in fetch_all(conn, "blacklist_blocked", {"phones": phones, "campaign_id": self.campaign.id})
        }
        on_redis = self._opt_outs.blocked(phones)
        if on_redis is None:
            self.redis_available = False
        else:
            for phone in on_redis:
                reasons.setdefault(phone, "blacklist_redis")
        if not reasons:
            return rows, 0
        revoked = [r for r in rows if r["phone"] in reasons]
        with conn.transaction():
            execute(
                conn,
                "dial_tasks_revoke",
                {"ids": [r["dial_attempt_id"] for r in revoked], "reasons": [reasons[r["phone"]] for r in revoked]},
            )
        log.info(
            "Withheld %d dial task(s) whose number a blacklist or the opt-out set now blocks (%s)",
            len(revoked),
            ", ".join(sorted(set(reasons.values()))),
        )
        return [r for r in rows if r["phone"] not in reasons], len(revoked)

    def _entry(self, index: int, row: dict, body: str, group: str | None) -> dict:
        entry = {"Id": str(index), "MessageBody": body}
        if group:
            entry["MessageGroupId"] = group
            entry["MessageDeduplicationId"] = row["dial_attempt_id"]
        return entry

    def _send_batch(self, rows: list[dict], bodies: list[str]) -> None:
        """Send one batch; what SQS accepts goes on the unmarked list at once."""
        client, queue_url = self._sqs()
        group = message_group(self.campaign.id, queue_url)
        ids = {str(i): row["dial_attempt_id"] for i, row in enumerate(rows)}
        send_batch(
            client,
            queue_url,
            [self._entry(i, row, body, group) for i, (row, body) in enumerate(zip(rows, bodies, strict=True))],
            lambda entry_id, message_id: self._unmarked.append((ids[entry_id], message_id)),
        )

    def take_unmarked(self) -> list[tuple[str, str]]:
        unmarked, self._unmarked = self._unmarked, []
        return unmarked

    @staticmethod
    def mark_sent(conn, sent: list[tuple[str, str]]) -> None:
        for start in range(0, len(sent), MARK_SENT_EVERY):
            chunk = sent[start : start + MARK_SENT_EVERY]
            execute(conn, "dial_tasks_mark_sent", {"ids": [s[0] for s in chunk], "message_ids": [s[1] for s in chunk]})

    def send_unmarked(self, rows: list[dict]) -> list[tuple[str, str]]:
        """Send rows in batches (sqs_batches.cut) and return (dial_attempt_id, message id) of each
        one SQS accepted, unmarked."""
        bodies = [self.encode(row) for row in rows]
        for start, end in cut([len(body) for body in bodies]):  # ASCII: a character is a byte
            self._send_batch(rows[start:end], bodies[start:end])
        return self.take_unmarked()

    def send(self, rows: list[dict]) -> int:
        """Send rows and mark them sent on this sender's connection; return how many."""
        total = 0
        try:
            for start in range(0, len(rows), MARK_SENT_EVERY):
                sent = self.send_unmarked(rows[start : start + MARK_SENT_EVERY])
                self.mark_sent(self.conn, sent)
                total += len(sent)
        finally:
            self.mark_sent(self.conn, self.take_unmarked())
        return total
