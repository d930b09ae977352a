"""What the dialer side sees: from a contact becoming eligible to its dial task being on the queue.

A contact becomes eligible when its retry falls due (or its calling window opens); nothing pushes
it: the completion sensor's next poke tops the hopper up, and that claim is what sends it. So the
delay is the wait for the next poke plus the poke's own work up to the send. This figure drives
the product's poke function as the reschedule sensor does, on its interval, against the bench
stack (PostgreSQL, fauxqs), with contacts whose retries fall due at random instants over the run:

- each poke is a fresh connection, as each reschedule poke is a fresh task process;
- the next poke starts ``poke_interval`` after the previous one ended, as a reschedule date does;
- a contact's delay is ``sent_at`` of its dial task (stamped once SQS has accepted the send)
  minus the instant its retry fell due.

What it leaves out: the scheduler's own delay between a reschedule date and the poke's start
(the executor's queueing, a worker's start-up and the DAG parse), which ``make bench-fleet``
measures as poke lag, and which adds to every figure here.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

SLUG = "bench_eligibility"
RUN_ID = "bench__eligibility"
# The shortest poke interval a campaign can have in production (CAMPAIGN_MIN_POKE_INTERVAL_S).
POKE_INTERVAL_S = 15
CONTACTS = 300
SPREAD_S = 90  # retries fall due over this long: six pokes


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: a value that was measured, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def prepare(conn, source_campaign_id: int, contacts: int) -> int:
    """A campaign of contacts waiting for a retry: numbers in places open now, taken from the
    source campaign's untouched contacts (numbers never repeat across campaigns, so no cap of
    another campaign's calls binds them). Their retries are set due by the measuring process."""
    from benchmarks.data import BENCH_CONFIG
    from dev.seed import create_campaign
    from include.campaigns.calling_window import open_keys
    from include.campaigns.config import parse_config

    now = datetime.now(timezone.utc)
    campaign_id = create_campaign(
        conn,
        SLUG,
        name="Bench eligibility",
        status="active",
        tz="UTC",
        start_at=now - timedelta(minutes=5),
        end_at=now + timedelta(hours=2),
        tags=["pilot"],
        poke_interval_s=POKE_INTERVAL_S,
        max_in_flight=1_000_000,
        config=BENCH_CONFIG,
    )
    keys = [
        r[0]
        for r in conn.execute(
            "SELECT window_key FROM campaign_window_keys WHERE campaign_id = %s", (source_campaign_id,)
        )
    ]
    opened = sorted(open_keys(parse_config(BENCH_CONFIG).policy, keys, now))
    conn.execute(
        "INSERT INTO campaign_window_keys (campaign_id, window_key) SELECT %s, unnest(%s::text[])",
        (campaign_id, opened),
    )
    # Due within the run but later than the measurement, until the measuring process sets each
    # one's instant: a retry due after the run's end would let the first poke end the run.
    copied = conn.execute(
        """
        INSERT INTO contacts (campaign_id, external_ref, phone, timezones, jurisdiction, window_keys, priority,
                              status, attempts, dispatches, next_attempt_at)
        SELECT %(campaign_id)s, external_ref, phone, timezones, jurisdiction, window_keys, priority,
               'failed', 1, 1, now() + interval '90 minutes'
        FROM contacts
        WHERE campaign_id = %(source)s AND status = 'pending' AND window_keys <@ %(open)s::text[]
          AND cardinality(window_keys) > 0
          AND mod(substr(external_ref, 7)::bigint, 20) > 2   -- on no list (benchmarks/data.py's kinds)
        ORDER BY id DESC
        LIMIT %(n)s
    """,
        {"campaign_id": campaign_id, "source": source_campaign_id, "open": opened, "n": contacts},
    ).rowcount
    if not copied:
        raise RuntimeError("no untouched contact in an open place to measure with")
    return campaign_id


def run(job: dict) -> dict:
    """In the measuring process: retries fall due at random instants over the run while the poke
    runs on its interval; each contact's delay from due to sent."""
    from benchmarks.scenarios import _run
    from benchmarks.worker import partial
    from include.campaigns.db import campaign_db
    from include.campaigns.progress import poke

    cid, interval, spread = job["campaign_id"], job["poke_interval_s"], job["spread_s"]
    run_ctx = _run(cid, job["run_id"])
    with campaign_db() as conn:
        poke(conn, cid, run_ctx)  # the process's first poke: imports and clients, nothing due yet
        ids = [r[0] for r in conn.execute("SELECT id FROM contacts WHERE campaign_id = %s ORDER BY id", (cid,))]
        rng = random.Random(job.get("seed", 5))
        start = datetime.now(timezone.utc) + timedelta(seconds=1)
        due = {i: start + timedelta(seconds=rng.uniform(0, spread)) for i in ids}
        conn.execute(
            "UPDATE contacts c SET next_attempt_at = d.due FROM unnest(%s::bigint[], %s::timestamptz[]) "
            "AS d(id, due) WHERE c.id = d.id",
            (list(due), list(due.values())),
        )
    last_due = max(due.values())
    out = {"contacts": len(ids), "poke_interval_s": interval, "spread_s": spread, "poke_ms": [], "dispatched": []}
    # The sensor's first poke of the window comes at a random phase of its interval.
    time.sleep(rng.uniform(0, interval))
    while True:
        started = time.perf_counter()
        with campaign_db() as conn:
            result = poke(conn, cid, run_ctx)
        out["poke_ms"].append(1000 * (time.perf_counter() - started))
        out["dispatched"].append(result.dispatched)
        partial(out)
        if datetime.now(timezone.utc) > last_due + timedelta(seconds=interval) and not result.dispatched:
            break
        time.sleep(interval)
    with campaign_db() as conn:
        sent = dict(
            conn.execute(
                "SELECT contact_id, min(sent_at) FROM dial_tasks WHERE campaign_id = %s "
                "AND sent_at IS NOT NULL GROUP BY contact_id",
                (cid,),
            ).fetchall()
        )
    delays = [(sent[i] - at).total_seconds() for i, at in due.items() if i in sent]
    out.update(
        sent=len(delays),
        never_sent=len(ids) - len(delays),
        delays_s=sorted(delays),
        p50_s=percentile(delays, 0.50) if delays else None,
        p95_s=percentile(delays, 0.95) if delays else None,
        max_s=max(delays) if delays else None,
        early=sum(1 for d in delays if d < 0),
    )
    return out


def measure(bench) -> None:
    """In the harness: one measuring process, on a fresh campaign and queue. One round of many
    pokes: each poke is a sample of the wait, and rounds would only add minutes to the bench."""
    from benchmarks import env
    from benchmarks.run import Child, log

    big = bench.campaigns["big"]
    spread = max(2 * POKE_INTERVAL_S, round(SPREAD_S * min(1.0, bench.s.scale)))
    name, url = bench.queue("eligibility")
    with env.connect() as conn:
        cid = prepare(conn, big.id, CONTACTS)
    child = Child(
        {
            "kind": "eligibility",
            "campaign_id": cid,
            "run_id": RUN_ID,
            "poke_interval_s": POKE_INTERVAL_S,
            "spread_s": spread,
        },
        queue=name,
        log_path=bench.log_path,
    )
    (result,), _, _ = bench._timed("eligibility", [child], spread + 4 * POKE_INTERVAL_S + 60)
    bench.drop_queue(url)
    if not result or result.get("p50_s") is None:
        log(f"eligibility: measured nothing ({result or child.partial})")
        return
    bench.facts["eligibility"] = [{k: v for k, v in result.items() if k != "delays_s"}]
    bench.series_of("eligible_to_queue_p50_s").add(result["p50_s"])
    bench.series_of("eligible_to_queue_p95_s").add(result["p95_s"])
    log(
        f"eligibility: {result['sent']:,} of {result['contacts']:,} contacts sent, due to on the queue "
        f"p50 {result['p50_s']:.1f} s, p95 {result['p95_s']:.1f} s, max {result['max_s']:.1f} s "
        f"(poke every {POKE_INTERVAL_S} s, pokes {statistics.median(result['poke_ms']):,.0f} ms median)"
    )


def rows(bench, row, sec) -> None:
    """The figure's rows in the bench table."""
    s = bench.series_of
    row(
        f"3. Eligible (retry due) → dial task on the queue, p50, poke every {POKE_INTERVAL_S} s",
        s("eligible_to_queue_p50_s"),
        sec,
        "",
    )
    row("3. Same, p95", s("eligible_to_queue_p95_s"), sec, "")


def details(bench) -> list[str]:
    results = bench.facts.get("eligibility") or []
    if not results:
        return []
    never = sum(r["never_sent"] for r in results)
    early = sum(r["early"] for r in results)
    polls = [ms for r in results for ms in r["poke_ms"]]
    return [
        f"- Eligible → queue: {sum(r['contacts'] for r in results):,} contacts over {len(results)} round(s), "
        f"retries due at random over {results[0]['spread_s']} s, the poke function every "
        f"{results[0]['poke_interval_s']} s after the previous poke's end (poke median "
        f"{statistics.median(polls):,.0f} ms); {never} never sent, {early} sent before due. The scheduler's "
        f"own delay in starting a poke (`make bench-fleet`'s poke lag) comes on top."
    ]
