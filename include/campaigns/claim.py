"""The claim: a campaign's eligible contacts, read in claim order and claimed chunk by chunk."""

from __future__ import annotations

import heapq
import itertools
import json
from datetime import datetime

from include.campaigns.calling_window import legal_rule, split_key
from include.campaigns.campaign import Campaign
from include.campaigns.config import CampaignConfig
from include.campaigns.db import fetch_all, fetch_one
from include.campaigns.number_lockouts import claim_params as lockout_params
from include.campaigns.runs import RunContext

# Contacts claimed per transaction when the claim locks its numbers: each number is one entry in
# PostgreSQL's shared lock table (max_locks_per_transaction x max_connections entries in all),
# so many dispatchers claiming 1,000 numbers each at once could fill it.
LOCKED_CLAIM_STEP = 200


def legal_caps(keys) -> dict[str, int]:
    """The per-jurisdiction 24 h attempt caps that apply to these window keys."""
    caps = {}
    for key in keys:
        jurisdiction = split_key(key)[1]
        cap = legal_rule(jurisdiction).max_attempts_24h
        if cap is not None:
            caps[jurisdiction] = cap
    return caps


class Claimer:
    """A campaign's eligible contacts, claimed chunk by chunk in claim order.

    The order is the operator's priority, then the answer model's score (the answer rate of the
    contact's local hour of week now x the contact's affinity), then fewer attempts, then the
    oldest contact. At one instant the hour rate is one number per time zone, so each open zone
    is read in its own index order (contacts_claim_order_idx, in keyset pages) and the zones are
    merged here: a dispatch reads about as many contacts as it claims, whatever the campaign's
    size, and never sorts the campaign.
    """

    FIRST_KEY = (-(2**31), float("-inf"), -1, 0)  # before any contact in the walk order

    def __init__(
        self,
        conn,
        campaign: Campaign,
        config: CampaignConfig,
        run: RunContext,
        opened: dict[str, datetime],
        now: datetime,
        *,
        shard: int = 0,
        shard_count: int = 1,
        page: int = 1000,
    ):
        self.conn, self.page = conn, page
        caps = legal_caps(opened)
        # Another campaign may place one of these numbers where stricter law applies (it has the
        # person's address): the cap of the number is the lowest any of its contacts has, and its
        # lockouts after an outcome the longest.
        everywhere = [r["window_key"] for r in fetch_all(conn, "dial_tasks_claim_window_keys")]
        elsewhere = legal_caps(everywhere)
        self.rules = {
            "campaign_id": campaign.id,
            "max_attempts": config.max_attempts,
            "open_keys": sorted(opened),
            "no_caps": config.max_attempts_per_24h is None and not caps and not elsewhere,
            "cap_24h": config.max_attempts_per_24h,
            "legal_caps": json.dumps({**elsewhere, **caps}),
            "shard": shard,
            "shard_count": shard_count,
            **lockout_params([*everywhere, *opened], config.lockouts, now),
        }
        self.task = {
            "run_id": run.run_id,
            "run_end": run.run_end,
            "max_contacts": run.max_contacts,
            "closes_at": json.dumps({k: v.isoformat() for k, v in opened.items()}),
        }
        self.locks = {
            "campaign_id": campaign.id,
            "run_id": run.run_id,
            "max_contacts": run.max_contacts,
            "own_cap": config.max_attempts_per_24h is not None,
            "capped_jurisdictions": sorted(caps.keys() | elsewhere.keys()),
        }
        self.step = (
            LOCKED_CLAIM_STEP
            if not self.rules["no_caps"] or fetch_one(conn, "campaigns_capped_live")["capped"]
            else None
        )
        zones = sorted({split_key(k)[0] for k in opened})
        rates = fetch_all(conn, "claim_zone_rates", {"zones": zones, "now": now})
        self._next = heapq.merge(*(self._walk(r["zone"], r["rate"]) for r in rates))
        self.exhausted = not zones

    def _walk(self, zone: str, rate: float):
        after = self.FIRST_KEY
        while True:
            rows = fetch_all(
                self.conn,
                "dial_tasks_claim_walk",
                {
                    **self.rules,
                    "zone": zone,
                    "limit": self.page,
                    "after_priority": after[0],
                    "after_affinity": after[1],
                    "after_attempts": after[2],
                    "after_id": after[3],
                },
            )
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
            some = ids[start : start + step]
            with self.conn.transaction():
                fetch_one(self.conn, "dial_tasks_claim_lock", {**self.locks, "ids": some})
                rows += fetch_all(self.conn, "dial_tasks_claim", {**self.rules, **self.task, "ids": some})
        # In the order picked, so the queue receives the best contacts first.
        picked = {contact_id: n for n, contact_id in enumerate(ids)}
        rows.sort(key=lambda row: picked[row["contact_id"]])
        if self.task["max_contacts"] is not None and len(rows) < len(ids) and not self.exhausted:
            # Short: taken by someone else, changed since read, or the run's limit is reached.
            counts = fetch_one(
                self.conn,
                "dial_tasks_open_count",
                {"campaign_id": self.rules["campaign_id"], "run_id": self.task["run_id"], "count_run": True},
            )
            self.exhausted = counts["sent_this_run"] >= self.task["max_contacts"]
        return rows
