"""What a shard's walk reads: the claim-order walk of one campaign as one dispatcher and as each
shard of two, EXPLAIN ANALYZE, µs per contact returned and rows read per contact returned.

    eval "$(python -m dev.stack env)"; python -m benchmarks.claim_shards [contacts] [page]

A shard that reads the other shards' contacts to drop them pays for rows it never claims; this
shows how many, and what they cost. It creates its own campaign (slug ``bench_claim_profile``,
as ``claim_profile`` does) and deletes it.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone

_ROWS = re.compile(r"Index Scan .*actual time=[\d.]+\.\.[\d.]+ rows=(?P<rows>[\d.]+) loops=(?P<loops>\d+)")
_REMOVED = re.compile(r"Rows Removed by Filter: (?P<n>\d+)")


def walk(conn, campaign_id: int, shard: int, shard_count: int, page: int) -> dict:
    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.claim import Claimer
    from include.campaigns.db import fetch_all, load_sql
    from include.campaigns.runs import RunContext

    campaign = load_campaign(conn, campaign_id)
    now = datetime.now(timezone.utc)
    run = RunContext(campaign_id=campaign_id, run_id="bench", run_start=now, run_end=now + timedelta(days=1), live=True)
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign_id})]
    opened = open_keys(campaign.config.policy, keys, now)
    claimer = Claimer(
        conn, campaign, campaign.config, run, opened, now, shard=shard, shard_count=shard_count, page=page
    )
    zone = sorted(opened)[0].split("|")[0]
    params = {
        **claimer.rules,
        "zone": zone,
        "limit": page,
        "after_priority": Claimer.FIRST_KEY[0],
        "after_affinity": Claimer.FIRST_KEY[1],
        "after_attempts": Claimer.FIRST_KEY[2],
        "after_id": Claimer.FIRST_KEY[3],
    }
    best = None
    for _ in range(3):  # the first warms the cache; the fastest of the rest
        plan = [
            r[0]
            for r in conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + load_sql("dial_tasks_claim_walk"), params, prepare=False
            ).fetchall()
        ]
        ms = float(next(line for line in plan if line.strip().startswith("Execution Time")).split(":")[1].split()[0])
        planning = float(
            next(line for line in plan if line.strip().startswith("Planning Time")).split(":")[1].split()[0]
        )
        best = ms if best is None else min(best, ms)
    returned = round(
        float(next(line for line in plan if "Limit" in line and "actual" in line).split("rows=")[2].split()[0])
    )
    removed = sum(int(m["n"]) for line in plan if (m := _REMOVED.search(line)))
    return {
        "returned": returned,
        "removed": removed,
        "us": 1000 * best / max(returned, 1),
        "planning_ms": planning,
        "plan": plan,
    }


def measure(contacts: int = 20_000, page: int = 2000) -> dict:
    from benchmarks.claim_profile import _campaign
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.resolution import resolve_contacts

    with campaign_db() as conn:
        campaign_id = _campaign(conn, contacts)
        resolve_contacts(conn, load_campaign(conn, campaign_id))
        conn.execute("ANALYZE contacts")
        try:
            return {
                "one dispatcher": walk(conn, campaign_id, 0, 1, page),
                "shard 0 of 2": walk(conn, campaign_id, 0, 2, page),
                "shard 1 of 2": walk(conn, campaign_id, 1, 2, page),
            }
        finally:
            conn.execute("DELETE FROM campaigns WHERE id = %s", (campaign_id,))


def lines(result: dict) -> list[str]:
    return [
        f"walk, {name}: {r['returned']} contacts returned, {r['removed']} rows read and dropped by the "
        f"filter; {r['us']:.2f} µs per contact returned; planning the page {r['planning_ms']:.2f} ms"
        for name, r in result.items()
    ]


def notes(result: dict) -> list[str]:
    """One line for make bench's details."""
    parts = [
        f"{name}: {r['us']:.2f} µs per contact returned, {r['removed']} other shards' rows read and dropped per "
        f"{r['returned']} returned"
        for name, r in result.items()
    ]
    planning = max(r["planning_ms"] for r in result.values())
    return [
        f"Shards' walk (EXPLAIN ANALYZE of one page of one zone): {'; '.join(parts)}; each page statement is "
        f"also planned, up to {planning:.2f} ms."
    ]


def main(contacts: int = 20_000, page: int = 2000) -> None:
    print("\n".join(lines(measure(contacts, page))))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
