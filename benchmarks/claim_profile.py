"""Where a claimed contact's time goes inside PostgreSQL: EXPLAIN ANALYZE of one chunk of the
claim, as dispatch issues it, split by component and divided by the contacts claimed.

    eval "$(python -m dev.stack env)"; python -m benchmarks.claim_profile [contacts] [chunk]

It creates its own campaign (slug ``bench_claim_profile``), profiles a chunk with no cap (nothing
locked) and with a 24 h cap (every number locked first), each in a transaction that is rolled back,
and deletes the campaign. The components: the claim-order walk (per contact read), the per-phone
locks, and in the claim statement reading and re-checking the contacts, updating them, inserting
the dial tasks, and the triggers those writes fire (the foreign-key check and the status-count log).
Whether the contacts' updates were HOT comes from pg_stat_user_tables.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
from datetime import datetime, timedelta, timezone

SLUG = "bench_claim_profile"
_NODE = re.compile(
    r"^(?P<indent>\s*)(->\s*)?(?P<name>[A-Za-z][^(]*?)\s+\(cost=.*actual time=(?P<start>[\d.]+)\.\.(?P<end>[\d.]+) rows=(?P<rows>[\d.]+) loops=(?P<loops>\d+)\)"
)
_TRIGGER = re.compile(r"^Trigger (?P<name>.+?): time=(?P<ms>[\d.]+) calls=(?P<calls>\d+)")


def components(plan: list[str]) -> dict[str, float]:
    """Milliseconds by component of an EXPLAIN ANALYZE of the claim statement: each ModifyTable's
    own time (its total less its input's), the triggers, and the reading of the rest."""
    out: dict[str, float] = {}
    nodes = []
    for line in plan:
        if m := _NODE.match(line):
            nodes.append((len(m["indent"]), m["name"].strip(), float(m["end"]) * int(m["loops"])))
        elif m := _TRIGGER.match(line.strip()):
            out[f"trigger {m['name']}"] = float(m["ms"])
        elif line.strip().startswith("Execution Time:"):
            out["total"] = float(line.split(":")[1].split()[0])
    for i, (indent, name, total) in enumerate(nodes):
        if name.startswith(("Update on", "Insert on")):
            child = next((t for ind, _, t in nodes[i + 1 :] if ind > indent), 0.0)
            out[name] = out.get(name, 0.0) + max(total - child, 0.0)
    out["read, lock and re-check"] = out.get("total", 0.0) - sum(v for k, v in out.items() if k != "total")
    return out


def _campaign(conn, contacts: int) -> int:
    from dev.seed import create_campaign
    from tests.helpers import open_zone, us_numbers

    conn.execute("DELETE FROM campaigns WHERE slug = %s", (SLUG,))
    campaign_id = create_campaign(
        conn,
        SLUG,
        max_in_flight=10**6,
        config={"skip_public_holidays": False, "calling_window": {"start": "08:00", "end": "21:00"}},
    )
    zone = open_zone()
    with conn.cursor() as cur, cur.copy("COPY contacts (campaign_id, phone, timezone) FROM STDIN") as copy:
        for phone in us_numbers(contacts, seed=9, area="312"):
            copy.write_row((campaign_id, phone, zone))
    return campaign_id


def _hot(conn) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'contacts'").fetchone()
    return row[0], row[1]


def profile(conn, campaign_id: int, config: dict, chunk: int) -> dict:
    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.claim import Claimer
    from include.campaigns.config import parse_config
    from include.campaigns.db import fetch_all, load_sql
    from include.campaigns.runs import RunContext

    conn.execute("UPDATE campaigns SET config = %s WHERE id = %s", (json.dumps(config), campaign_id))
    campaign = load_campaign(conn, campaign_id)
    parsed = parse_config(config)
    now = datetime.now(timezone.utc)
    run = RunContext(campaign_id=campaign_id, run_id="bench", run_start=now, run_end=now + timedelta(days=1), live=True)
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign_id})]
    opened = open_keys(parsed.policy, keys, now)
    out: dict = {}
    with conn.transaction(force_rollback=True):
        claimer = Claimer(conn, campaign, parsed, run, opened, now, page=chunk)
        started = time.perf_counter()
        ids = [key[3] for key in itertools.islice(claimer._next, chunk)]
        out["walk_ms"] = 1000 * (time.perf_counter() - started)
        locks = [
            r[0]
            for r in conn.execute(
                "EXPLAIN (ANALYZE) " + load_sql("dial_tasks_claim_lock"), {**claimer.locks, "ids": ids}, prepare=False
            ).fetchall()
        ]
        out["lock_ms"] = float(
            next(line for line in locks if line.startswith("Execution Time")).split(":")[1].split()[0]
        )
        before = _hot(conn)
        plan = [
            r[0]
            for r in conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + load_sql("dial_tasks_claim"),
                {**claimer.rules, **claimer.task, "ids": ids},
                prepare=False,
            ).fetchall()
        ]
    after = _hot(conn)
    out["claimed"] = len(ids)
    out["claim"] = components(plan)
    out["hot_updates"] = f"{after[1] - before[1]} of {after[0] - before[0]}"
    out["plan"] = plan
    return out


def measure(contacts: int = 20_000, chunk: int = 1000) -> dict:
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.resolution import resolve_contacts

    with campaign_db() as conn:
        campaign_id = _campaign(conn, contacts)
        resolve_contacts(conn, load_campaign(conn, campaign_id))
        base = {"skip_public_holidays": False, "calling_window": {"start": "08:00", "end": "21:00"}}
        try:
            profile(conn, campaign_id, base, chunk)  # warm the cache
            return {
                "no cap": profile(conn, campaign_id, base, chunk),
                "24 h cap": profile(conn, campaign_id, {**base, "max_attempts_per_24h": 1}, chunk),
            }
        finally:
            conn.execute("DELETE FROM campaigns WHERE id = %s", (campaign_id,))


def lines(result: dict) -> list[str]:
    """The profile as text: µs per claimed contact by component."""
    out = []
    for name, p in result.items():
        n = max(p["claimed"], 1)
        out.append(f"{name}: {p['claimed']} contacts in one chunk; contacts' updates HOT: {p['hot_updates']}")
        out.append(f"  walk (claim-order read, eligibility probes): {1000 * p['walk_ms'] / n:6.1f} µs/contact")
        out.append(f"  per-phone locks statement:                   {1000 * p['lock_ms'] / n:6.1f} µs/contact")
        for comp, ms in p["claim"].items():
            out.append(f"  claim statement, {comp + ':':<36}{1000 * ms / n:6.1f} µs/contact")
    return out


def notes(result: dict) -> list[str]:
    """The profile as one line per setting, for make bench's details."""
    out = []
    for name, p in result.items():
        n = max(p["claimed"], 1)
        parts = [f"walk {1000 * p['walk_ms'] / n:.1f}", f"per-phone locks {1000 * p['lock_ms'] / n:.1f}"]
        parts += [f"{comp} {1000 * ms / n:.1f}" for comp, ms in p["claim"].items()]
        out.append(
            f"Claim profile, {name} (EXPLAIN ANALYZE of a {p['claimed']}-contact chunk, µs per claimed "
            f"contact): {'; '.join(parts)}. Contacts' updates HOT: {p['hot_updates']}."
        )
    return out


def main(contacts: int = 20_000, chunk: int = 1000) -> None:
    print("\n".join(lines(measure(contacts, chunk))))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
