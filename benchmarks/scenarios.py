"""Measured scenarios that run inside one worker process: claim, sensor pokes, report.

``Breakdown`` times the product's own calls (each SQL statement by its file name, the SQS sends,
Redis, client set-up) by wrapping them in this process only, so every figure comes with where its
time went. It never changes what the product does.
"""

from __future__ import annotations

import functools
import itertools
import os
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from benchmarks.worker import partial

NEW_RECORDS_SQL = """
INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at,
                          duration_s, local_hour)
SELECT t.dial_attempt_id, t.campaign_id, t.contact_id, t.phone,
       (ARRAY['answered', 'answered', 'answered', 'answered', 'answered', 'answered', 'answered', 'answered',
              'converted', 'converted', 'voicemail', 'voicemail', 'busy', 'busy', 'no_answer', 'no_answer',
              'no_answer', 'no_answer', 'failed', 'opted_out'])[1 + mod(abs(hashint8(t.contact_id)), 20)],
       now() - interval '2 minutes', now() - interval '1 minute', 60, NULL
FROM dial_tasks t
WHERE t.campaign_id = %(campaign_id)s AND t.status = 'sent'
  AND NOT EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id)
ORDER BY t.sent_at
LIMIT %(count)s
"""


# Setup only (never timed): put contacts in flight the way a finished dispatch leaves them
# (claimed, marked sent, in the run's ledger), skipping anyone on either blacklist.
FILL_HOPPER_SQL = """
WITH picked AS (
    SELECT c.id FROM contacts c
    WHERE c.campaign_id = %(campaign_id)s AND c.status = 'pending' AND c.window_keys <> '{}'
      AND c.window_keys <@ %(open_keys)s::text[] AND mod(substr(c.external_ref, 7)::bigint, 20) <> 2
      AND NOT EXISTS (SELECT 1 FROM blacklist b WHERE b.phone = c.phone)
    ORDER BY c.id
    LIMIT %(count)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE contacts c
    SET status = 'in_flight', attempts = c.attempts + 1, dispatches = c.dispatches + 1, last_attempt_at = now(),
        next_attempt_at = NULL
    FROM picked p WHERE c.id = p.id
    RETURNING c.id, c.campaign_id, c.phone, c.attempts, c.dispatches
)
INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, not_after,
                        sent_at, message_id)
SELECT 'c' || campaign_id || '-' || id || '-' || dispatches, campaign_id, id, phone, attempts, %(run_id)s, 'sent',
       now() + interval '2 hours', now(), md5(id::text)
FROM claimed
"""


def fill_hopper(conn, campaign_id: int, run_id: str, count: int) -> int:
    from include.campaigns.calling_window import open_keys
    from include.campaigns.config import parse_config

    config = parse_config(conn.execute("SELECT config FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0])
    keys = [
        r[0] for r in conn.execute("SELECT window_key FROM campaign_window_keys WHERE campaign_id = %s", (campaign_id,))
    ]
    opened = sorted(open_keys(config.policy, keys, datetime.now(timezone.utc)))
    with conn.cursor() as cur:
        cur.execute(
            FILL_HOPPER_SQL, {"campaign_id": campaign_id, "open_keys": opened, "count": count, "run_id": run_id}
        )
        return cur.rowcount


class Breakdown:
    """Time spent per product call, keyed by SQL file name or operation; totals in seconds."""

    DB_FUNCS = ("fetch_all", "fetch_one", "execute")

    def __init__(self):
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._patched: list[tuple[object, str, object]] = []
        self.active = False

    def _wrap(self, owner, attr: str, label) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if not self.active:
                return original(*args, **kwargs)
            name = label(args) if callable(label) else label
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[name] += time.perf_counter() - started
                self.calls[name] += 1

        setattr(owner, attr, timed)
        self._patched.append((owner, attr, original))

    def install(self) -> Breakdown:
        from include.campaigns import blacklist, claim, dispatch, progress, reporting, resolution, resources, sender

        for module in (dispatch, claim, sender, resolution, progress, reporting):
            for func in self.DB_FUNCS:
                if hasattr(module, func):
                    self._wrap(module, func, lambda args, f=func: f"sql {args[1]}")
        self._wrap(resources, "sqs_client", "sqs client set-up (SqsHook)")
        self._wrap(resources, "dial_queue_url", "sqs get_queue_url")
        self._wrap(blacklist.OptOutScreen, "blocked", "redis SMISMEMBER (opt-out screen)")
        self._wrap(blacklist, "add_opt_outs", "redis SADD (new opt-outs)")
        if hasattr(sender, "Sender"):
            self._wrap(sender.Sender, "_send_batch", "sqs SendMessageBatch")
        if hasattr(dispatch, "open_keys"):
            self._wrap(dispatch, "open_keys", "python open_keys (calling windows)")
        if hasattr(dispatch, "resolve_contacts"):
            self._wrap(dispatch, "resolve_contacts", "resolve_contacts (incl. its SQL)")
        return self

    @contextmanager
    def measure(self):
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    def top(self, runs: int = 1, limit: int = 8) -> list[tuple[str, float, float]]:
        """(name, ms per run, calls per run), largest first."""
        items = sorted(self.totals.items(), key=lambda kv: -kv[1])[:limit]
        return [(name, 1000 * total / runs, self.calls[name] / runs) for name, total in items]

    def reset(self) -> None:
        self.totals.clear()
        self.calls.clear()


def _run(campaign_id: int, run_id: str, **kw):
    from include.campaigns.runs import RunContext

    now = datetime.now(timezone.utc)
    return RunContext(
        campaign_id=campaign_id,
        run_id=run_id,
        run_start=now - timedelta(minutes=1),
        run_end=now + timedelta(hours=2),
        live=True,
        **kw,
    )


def claim(job: dict) -> dict:
    """Eligibility and claim inside PostgreSQL: the product's Claimer (the claim-order walk of each
    open zone, merged, then the claim statement), chunk after chunk as dispatch issues it on one
    connection, inside one transaction that is rolled back (the campaign stays as it was). A
    statement still running at the cap is cancelled and counted in the time."""
    import psycopg

    from include.campaigns import claim as c
    from include.campaigns import dispatch as d
    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.config import parse_config
    from include.campaigns.db import campaign_db, fetch_all, load_sql

    out: dict = {"chunk": getattr(d, "CLAIM_CHUNK", None), "statement_s": []}
    if not hasattr(c, "Claimer"):
        out["error"] = "claim.Claimer is gone; update benchmarks/scenarios.py:claim"
        return out
    now = datetime.now(timezone.utc)
    run = _run(job["campaign_id"], job["run_id"])
    with campaign_db() as conn:
        campaign = load_campaign(conn, job["campaign_id"])
        config = parse_config(campaign.raw_config)
        keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
        opened = open_keys(config.policy, keys, now)
        out["eligible_now"] = conn.execute(
            "SELECT count(*) FROM contacts WHERE campaign_id = %s AND status IN ('pending', 'failed') "
            "AND window_keys <> '{}' AND window_keys <@ %s::text[]",
            (campaign.id, sorted(opened)),
        ).fetchone()[0]

        def claimer(page):
            return c.Claimer(conn, campaign, config, run, opened, now, page=page)

        claimed = 0
        started = time.perf_counter()
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(f"SET LOCAL statement_timeout = {int(job['seconds'] * 1000) + 1000}")
                walker = claimer(d.WALK_PAGE)
                while claimed < job["max_contacts"] and time.perf_counter() - started < job["seconds"]:
                    t0 = time.perf_counter()
                    rows = walker.claim(min(out["chunk"], job["max_contacts"] - claimed))
                    out["statement_s"].append(time.perf_counter() - t0)
                    claimed += len(rows)
                    if walker.exhausted:
                        break
        except psycopg.errors.QueryCanceled:
            out["statement_s"].append(time.perf_counter() - t0)
            out["cancelled"] = f"statement {len(out['statement_s'])} still running after {out['statement_s'][-1]:.0f} s"
        elapsed = time.perf_counter() - started
        out.update(
            chunked_claimed=claimed,
            chunked_statements=len(out["statement_s"]),
            chunked_s=elapsed,
            chunked_rate=claimed / elapsed if elapsed else None,
        )
        partial(out)

        # Many contacts in one claim statement: what set-based claiming costs per row.
        with conn.transaction(force_rollback=True):
            started = time.perf_counter()
            rows = claimer(d.WALK_PAGE).claim(job["whole_limit"])
            elapsed = time.perf_counter() - started
        out.update(whole_claimed=len(rows), whole_s=elapsed, whole_rate=len(rows) / elapsed if elapsed else None)

        # The plans: one page of one zone's walk, and one chunk's claim statement.
        with conn.transaction(force_rollback=True):
            walker = claimer(out["chunk"])
            zone = sorted({k.split("|")[0] for k in opened})[0]
            walk = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + load_sql("dial_tasks_claim_walk"),
                {
                    **walker.rules,
                    "zone": zone,
                    "limit": out["chunk"],
                    "after_priority": d.Claimer.FIRST_KEY[0],
                    "after_affinity": d.Claimer.FIRST_KEY[1],
                    "after_attempts": d.Claimer.FIRST_KEY[2],
                    "after_id": d.Claimer.FIRST_KEY[3],
                },
                prepare=False,
            ).fetchall()
            ids = [key[3] for key in itertools.islice(walker._next, out["chunk"])]
            plan = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + load_sql("dial_tasks_claim"),
                {**walker.rules, **walker.task, "ids": ids},
                prepare=False,
            ).fetchall()
        out["explain"] = "\n".join(
            [f"-- dial_tasks_claim_walk, zone {zone}"]
            + [r[0] for r in walk]
            + ["", "-- dial_tasks_claim"]
            + [r[0] for r in plan]
        )
    return out


def add_call_records(conn, campaign_id: int, count: int) -> int:
    """What the dialer writes: results for the oldest sent dial tasks that have none yet."""
    with conn.cursor() as cur:
        cur.execute(NEW_RECORDS_SQL, {"campaign_id": campaign_id, "count": count})
        return cur.rowcount


def in_flight(conn, campaign_id: int) -> int:
    return conn.execute(
        "SELECT count(*) FROM dial_tasks WHERE campaign_id = %s AND status = 'sent'", (campaign_id,)
    ).fetchone()[0]


def pokes(job: dict) -> dict:
    """Idle pokes (nothing changed since the last) and pokes after new call records, with the
    top-up as the sensor runs it and with the Param dispatch off. Each poke opens its own
    connection, as each reschedule poke is a fresh task process."""
    import psycopg

    from include.campaigns.db import campaign_db
    from include.campaigns.progress import poke

    cid, budget_end = job["campaign_id"], time.time() + job["seconds"]
    live = _run(cid, job["run_id"])
    ingest_only = _run(cid, job["run_id"], dispatch=False)
    breakdown = Breakdown().install()
    out: dict[str, Any] = {
        "idle_ms": [],
        "records_full_ms": [],
        "records_ingest_only_ms": [],
        "ingested": [],
        "topped_up": [],
        "first_poke_ms": None,
        "failed": None,
    }
    phases = {"idle": Breakdown(), "records_full": Breakdown(), "records_ingest_only": Breakdown()}

    def timed_poke(run, label):
        breakdown.reset()
        with campaign_db() as conn, breakdown.measure():
            started = time.perf_counter()
            result = poke(conn, cid, run)
            elapsed = 1000 * (time.perf_counter() - started)
        for name, total in breakdown.totals.items():
            phases[label].totals[name] += total
            phases[label].calls[name] += breakdown.calls[name]
        out[f"{label}_ms"].append(elapsed)
        for key, phase in phases.items():
            out[f"{key}_breakdown"] = phase.top(runs=max(1, len(out[f"{key}_ms"])))
        partial(out)
        return result

    with campaign_db() as conn:
        records = min(job["records"], in_flight(conn, cid))
    out["records"] = records
    started = time.perf_counter()
    with campaign_db() as conn:
        poke(conn, cid, live)  # the first poke of the process: lazy imports, client set-up
    out["first_poke_ms"] = 1000 * (time.perf_counter() - started)
    try:
        # Rounds of the cheap pokes first: idle ones, then one after new records with dispatch off.
        for _ in range(job["runs"]):
            for _ in range(job["idle_per_round"]):
                timed_poke(live, "idle")
            with campaign_db() as conn:
                add_call_records(conn, cid, records)
            out["ingested"].append(timed_poke(ingest_only, "records_ingest_only").ingested)
            with campaign_db() as conn:
                fill_hopper(conn, cid, job["run_id"], records)  # refill what was ingested, untimed
            if time.time() > budget_end:
                break
        # Then the sensor as it runs: new records, ingested, and the freed slots topped up.
        for _ in range(job["runs"]):
            with campaign_db() as conn:
                add_call_records(conn, cid, records)
            round_started = time.time()
            out["topped_up"].append(timed_poke(live, "records_full").dispatched)
            if time.time() + (time.time() - round_started) > budget_end:
                break
    except psycopg.errors.QueryCanceled as exc:
        out["failed"] = f"a statement ran past {job.get('statement_timeout_s', '?')} s ({str(exc).splitlines()[0]})"
    return out


def report(job: dict) -> dict:
    """The report as generate_report builds it: build_report with the per-contact CSV read beside it
    on a second connection, in one snapshot (reporting.build_report_with_csv), the CSV streamed to a
    file instead of S3. Also the time of each part on its own clock, and, once, the floor: one plain
    pass over the campaign's contacts and one over its call records."""
    from include.campaigns import reporting
    from include.campaigns.db import campaign_db
    from include.campaigns.report_render import render_csv_to

    run = _run(job["campaign_id"], job["run_id"])
    breakdown = Breakdown().install()
    build_s: list[float] = []
    build_report = reporting.build_report

    def timed_build(*args, **kwargs):
        started = time.perf_counter()
        try:
            return build_report(*args, **kwargs)
        finally:
            build_s.append(time.perf_counter() - started)

    reporting.build_report = timed_build
    out: dict[str, Any] = {"total_s": [], "build_s": [], "csv_s": [], "csv_rows": None, "csv_mb": None}
    budget_end = time.time() + job["seconds"]
    while len(out["total_s"]) < job["runs"] and (not out["total_s"] or time.time() + out["total_s"][-1] < budget_end):
        csv_done: dict[str, Any] = {}
        with campaign_db() as conn, breakdown.measure():
            with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", dir=job["tmp_dir"]) as handle:

                def write_csv(rows, handle=handle, csv_done=csv_done):
                    csv_done["rows"] = render_csv_to(handle, rows)
                    handle.flush()
                    csv_done["size"] = os.path.getsize(handle.name)
                    csv_done["ended"] = time.perf_counter()

                started = time.perf_counter()
                built = reporting.build_report_with_csv(
                    conn, job["campaign_id"], run, "completed", None, None, write_csv
                )
                ended = time.perf_counter()
        out["total_s"].append(ended - started)
        out["build_s"].append(build_s[-1])
        out["csv_s"].append(csv_done["ended"] - started)
        out["csv_rows"], out["csv_mb"] = csv_done["rows"], csv_done["size"] / 2**20
        out["report_keys"] = sorted(built)
        out["breakdown"] = breakdown.top(runs=len(out["total_s"]), limit=10)
        partial(out)
    out["floor_ms"] = _report_floor(job["campaign_id"])
    return out


def _report_floor(campaign_id: int) -> dict[str, float]:
    """One plain pass (a count of a column, so the rows are read) over the campaign's contacts and
    over its call records, as the report's statements may run them, in ms: the least any report
    reading them both can take."""
    from include.campaigns.db import campaign_db

    floor = {}
    with campaign_db() as conn:
        for table, column in (("contacts", "status"), ("call_records", "outcome")):
            started = time.perf_counter()
            conn.execute(f"SELECT count({column}) FROM {table} WHERE campaign_id = %s", (campaign_id,))
            floor[table] = 1000 * (time.perf_counter() - started)
    return floor
