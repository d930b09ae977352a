"""The harness: ``python -m benchmarks [--scale 1.0] [--runs 3]`` (``make bench``).

Order of work: the bench stack and fauxqs; a fresh campaign database and the data; then the
figures, the side-by-side ones interleaved round by round so every ratio compares runs taken
moments apart; then one table, printed and written to benchmarks/results.md.

Slow code is bounded, not waited for: a dispatch that has not finished within its cap is stopped
and its rate is what it sent (counted in the ledger) over the time it ran; the table marks it.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks import eligibility, env

RESULTS_MD = Path(__file__).resolve().parent / "results.md"


@dataclass
class Settings:
    scale: float = 1.0
    runs: int = 3
    big_contacts: int = 1_000_000
    history_records: int = 3_000_000
    dispatch_eligible: int = 100_000
    raw_messages: int = 100_000
    baseline_contacts: int = 20_000
    mem_small_contacts: int = 50_000
    hopper: int = 10_000
    poke_records: int = 10_000
    catalog: int = 1_000
    dispatch_cap_s: float = 30.0
    shards_cap_s: float = 30.0
    baseline_s: float = 10.0
    claim_s: float = 15.0
    lock_contacts: int = 20_000
    pokes_s: float = 60.0
    report_s: float = 45.0
    memory_cap_s: float = 45.0
    memory_contacts: int = 4_000

    def scaled(self) -> Settings:
        if self.scale == 1.0:
            return self
        s = self.scale
        return Settings(
            scale=s,
            runs=self.runs,
            big_contacts=max(2_000, int(self.big_contacts * s)),
            history_records=0,
            dispatch_eligible=max(500, int(self.dispatch_eligible * s)),
            raw_messages=max(500, int(self.raw_messages * s)),
            baseline_contacts=max(500, int(self.baseline_contacts * s)),
            mem_small_contacts=max(1_000, int(self.mem_small_contacts * s)),
            hopper=max(100, int(self.hopper * s)),
            poke_records=max(50, int(self.poke_records * s)),
            memory_contacts=max(100, int(self.memory_contacts * s)),
            catalog=max(10, int(self.catalog * s)),
            dispatch_cap_s=self.dispatch_cap_s,
            shards_cap_s=self.shards_cap_s,
            baseline_s=min(self.baseline_s, 3),
            claim_s=min(self.claim_s, 3),
            pokes_s=min(self.pokes_s, 10),
            report_s=min(self.report_s, 10),
            lock_contacts=max(1_000, int(self.lock_contacts * s)),
        )


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# Worker processes ---------------------------------------------------------------------------


LIVE_CHILDREN: set[Child] = set()
# A harness safety net, not a product setting: a statement running this long is stopped, so one
# runaway query fails its figure instead of the whole bench (see the table's notes).
STATEMENT_TIMEOUT_S = 120
POKE_STATEMENT_TIMEOUT_S = 30  # a poke is meant to take a second; a 30 s statement is a failure already


class Child:
    """A benchmarks.worker process; stdout is scanned for the protocol lines, the rest is logged."""

    def __init__(
        self, job: dict, *, queue: str | None = None, log_path: Path, statement_timeout_s: int = STATEMENT_TIMEOUT_S
    ):
        environ = dict(os.environ)
        if queue:
            environ[env.BENCH_QUEUE_VAR] = queue
        environ["PGOPTIONS"] = f"-c statement_timeout={statement_timeout_s * 1000}"
        self.job = job
        self.log_file = open(log_path, "a")  # noqa: SIM115 - open for the worker's whole life; closed in stop()
        self.log_file.write(f"\n=== {datetime.now().isoformat()} {json.dumps(job)}\n")
        self.log_file.flush()
        self.proc = subprocess.Popen(
            # cwd outside the project, so PYTHONPATH alone decides where include/ comes from.
            [sys.executable, "-m", "benchmarks.worker", json.dumps(job)],
            cwd=str(log_path.parent / "bench-work"),
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            text=True,
        )
        LIVE_CHILDREN.add(self)
        self.ready = threading.Event()
        self.done = threading.Event()
        self.ready_info: dict = {}
        self.result: dict | None = None
        self.partial: dict | None = None
        self.t_go: float | None = None
        self.cpu_go = 0.0
        self.cpu_s: float | None = None
        self.peak_rss_mb: float | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("BENCH-READY "):
                self.ready_info = json.loads(line[len("BENCH-READY ") :])
                self.ready.set()
            elif line.startswith("BENCH-RESULT "):
                self.result = json.loads(line[len("BENCH-RESULT ") :])
            elif line.startswith("BENCH-PARTIAL "):
                self.partial = json.loads(line[len("BENCH-PARTIAL ") :])
            else:
                self.log_file.write(line)
        self.done.set()
        self.ready.set()

    def wait_ready(self, timeout: float = 180) -> None:
        if not self.ready.wait(timeout) or not self.ready_info:
            self.kill()
            raise RuntimeError(f"worker {self.job['kind']} did not get ready; see {self.log_file.name}")

    def go(self) -> None:
        self.cpu_go = env.process_cpu(self.proc.pid)
        self.t_go = time.time()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def _finished(self) -> dict:
        self.proc.wait()
        LIVE_CHILDREN.discard(self)
        if self.result is None:
            raise RuntimeError(f"worker {self.job['kind']} failed ({self.proc.returncode}); see {self.log_file.name}")
        self.cpu_s = self.result.get("cpu_s")
        self.peak_rss_mb = self.result.get("rss_peak_mb")
        return self.result

    def wait_result(self, timeout: float | None = None) -> dict:
        if not self.done.wait(timeout):
            self.kill()
            raise RuntimeError(f"worker {self.job['kind']} did not finish in {timeout} s; see {self.log_file.name}")
        return self._finished()

    def wait_capped(self, cap: float) -> tuple[dict | None, float]:
        """Wait until the cap after go; return (result or None, the instant it ended or was stopped)."""
        remaining = self.t_go + cap - time.time()
        if self.done.wait(max(0.0, remaining)):
            result = self._finished()
            return result, result.get("t_end", time.time())
        stopped = time.time()
        self.kill()
        return None, stopped

    def kill(self) -> None:
        """Stop the process and the statements it left running in PostgreSQL."""
        if self.proc.poll() is None:
            self.cpu_s = env.process_cpu(self.proc.pid) - self.cpu_go
            self.peak_rss_mb = env.peak_rss_mb(self.proc.pid)
            ports = env.client_ports(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
            env.terminate_backends(ports)
        LIVE_CHILDREN.discard(self)
        self.done.wait(5)


def kill_all_children() -> None:
    for child in list(LIVE_CHILDREN):
        child.kill()


def run_alone(job: dict, log_path: Path, *, queue: str | None = None, timeout: float = 900) -> dict:
    child = Child(job, queue=queue, log_path=log_path)
    child.wait_ready()
    child.go()
    return child.wait_result(timeout)


# Measurements -------------------------------------------------------------------------------


@dataclass
class Series:
    values: list[float] = field(default_factory=list)
    capped: int = 0

    def add(self, value: float | None, capped: bool = False) -> None:
        if value is not None:
            self.values.append(value)
            self.capped += int(capped)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


class Bench:
    def __init__(self, settings: Settings, fauxqs):
        self.s = settings
        self.fauxqs = fauxqs
        self.sqs: Any = None
        self.stack = env.stack_dir()
        self.work = self.stack / "bench-work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.log_path = self.stack / "bench.log"
        self.series: dict[str, Series] = {}
        self.facts: dict[str, Any] = {}
        self.notes: list[str] = []
        self.campaigns: dict[str, Any] = {}
        self.cpu = env.CpuMeter(fauxqs.proc.pid)
        self.cpu_log: dict[str, list[dict]] = {}

    def series_of(self, name: str) -> Series:
        return self.series.setdefault(name, Series())

    # Data -----------------------------------------------------------------------------------

    def generate(self) -> None:
        from benchmarks import data, transport

        self.sqs = transport.client(self.fauxqs.endpoint)
        started = time.perf_counter()
        env.recreate_campaign_database()
        now = datetime.now(timezone.utc)
        open_places, closed_places = data.plan_places(now, timedelta(minutes=25))
        self.facts["places_open"] = ", ".join(f"{p.zones[0]} ({p.jurisdiction})" for p in open_places)
        self.facts["places_closed"] = ", ".join(f"{p.zones[0]} ({p.jurisdiction})" for p in closed_places)
        redis = env.redis_client()
        redis.delete(data.OPT_OUT_SET)
        s = self.s
        with env.connect() as conn:
            gen = data.Generator(conn, redis, now, open_places, closed_places)
            gen.answer_model()
            with data.BulkLoad(["contacts", "dial_tasks", "call_records"]):
                big = gen.campaign(
                    "bench_1m",
                    s.big_contacts,
                    closed_share=True,
                    history_records=s.history_records,
                    max_in_flight=s.hopper,
                )
            self.campaigns["big"] = big
            per_eligible = 20 / 17  # 85% of a campaign is eligible
            for r in range(s.runs):
                self.campaigns[f"dispatch_{r}"] = gen.campaign(
                    f"bench_dispatch_{r}", round(s.dispatch_eligible * per_eligible)
                )
                self.campaigns[f"shards_{r}"] = gen.campaign(
                    f"bench_shards_{r}", round(s.dispatch_eligible * per_eligible)
                )
                self.campaigns[f"baseline_{r}"] = gen.campaign(f"bench_seed_{r}", s.baseline_contacts)
            self.campaigns["mem_small"] = gen.campaign(
                "bench_mem_small", s.mem_small_contacts, closed_share=True, max_in_flight=s.hopper
            )
            self.facts["catalog"] = gen.catalog_fillers(s.catalog)
            gen.close()
            gen.vacuum()
            check = data.verify_resolution(conn, [c.id for c in self.campaigns.values()], 2_000)
        self.facts["data_s"] = time.perf_counter() - started
        self.facts["resolve_check"] = check
        log(
            f"data ready in {self.facts['data_s']:.0f} s: {big.contacts:,} contacts "
            f"({big.eligible:,} eligible now), {big.history:,} call records; "
            f"{check['sampled']:,} sampled contacts match phones.resolve "
            f"(resolve_contacts would run at ~{check['resolve_per_s']:,.0f} contacts/s)"
        )

    # Queues -----------------------------------------------------------------------------------

    def queue(self, label: str) -> tuple[str, str]:
        from benchmarks import transport

        name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
        return name, transport.create_queue(self.sqs, name)

    def drop_queue(self, url: str) -> int:
        from benchmarks import transport

        depth = transport.queue_depth(self.sqs, url)
        self.sqs.delete_queue(QueueUrl=url)
        return depth

    def sent_in_ledger(self, run_id: str) -> int:
        with env.connect() as conn:
            return conn.execute(
                "SELECT count(*) FROM dial_tasks WHERE run_id = %s AND status = 'sent'", (run_id,)
            ).fetchone()[0]

    # Figures 1 and 6 ------------------------------------------------------------------------

    def _timed(self, label: str, children: list[Child], cap: float | None) -> tuple[list[dict | None], float, float]:
        """Start the children together; return their results (None if stopped at the cap), the start
        and the end instants, and record CPU seconds used by each component meanwhile."""
        for c in children:
            c.wait_ready()
        activity = _pg_activity()  # read before the CPU snapshot: its own statements are not the run's
        before = {**self.cpu.snapshot(), **activity}
        for c in children:
            c.go()
        if cap is None:
            outcomes: list[tuple[Any, Any]] = [(c.wait_result(900), None) for c in children]
            ends = [res["t_end"] for res, _ in outcomes]
        else:
            outcomes = [c.wait_capped(cap) for c in children]
            ends = [end for _, end in outcomes]
        time.sleep(1.0)  # the backends of finished or stopped workers exit and are reaped into the totals
        after = self.cpu.snapshot()
        after.update(_pg_activity())
        cpu = self.cpu.delta(before, after)
        cpu["workers"] = sum(c.cpu_s or 0.0 for c in children)
        self.cpu_log.setdefault(label, []).append(cpu)
        return [res for res, _ in outcomes], min(c.t_go for c in children), max(ends)

    def _per_message(self, label: str, sent: int) -> None:
        cpu = self.cpu_log[label][-1]
        cpu["sent"] = sent

    def raw(self, r: int, processes: int, count: int) -> float:
        name, url = self.queue(f"raw{processes}-{r}")
        children = [
            Child({"kind": "raw", "count": count // processes}, queue=name, log_path=self.log_path)
            for _ in range(processes)
        ]
        results, t_start, t_end = self._timed(f"raw x{processes}", children, None)
        sent = sum(x["sent"] for x in results)
        self._per_message(f"raw x{processes}", sent)
        depth = self.drop_queue(url)
        if processes == 1:
            self.series_of("raw_first_tenth").add(results[0]["rate_first_tenth"])
            self.series_of("raw_last_tenth").add(results[0]["rate_last_tenth"])
        warm = sum(x.get("warm_up", 0) for x in results)  # one batch each before the clock starts
        self.facts.setdefault("queue_checks", []).append((f"raw x{processes}", sent + warm, depth))
        return sent / (t_end - t_start)

    def dispatch(self, campaign_key: str, shards: int, cap: float, label: str) -> tuple[float, bool, int]:
        campaign = self.campaigns[campaign_key]
        run_id = f"bench__{campaign_key}_{uuid.uuid4().hex[:6]}"
        name, url = self.queue(campaign_key)
        children = [
            Child(
                {"kind": "dispatch", "campaign_id": campaign.id, "run_id": run_id, "shard": i, "shard_count": shards},
                queue=name,
                log_path=self.log_path,
            )
            for i in range(shards)
        ]
        results, t_start, t_end = self._timed(label, children, cap)
        capped = any(res is None for res in results)
        sent = self.sent_in_ledger(run_id)
        self._per_message(label, sent)
        depth = self.drop_queue(url)
        self.facts.setdefault("queue_checks", []).append((f"dispatch {campaign_key}", sent, depth))
        for c in children:
            if c.peak_rss_mb and c.ready_info:
                self.series_of("dispatch_rss_growth_mb").add(c.peak_rss_mb - c.ready_info["rss_ready_mb"])
        return sent / (t_end - t_start), capped, sent

    def baseline(self, r: int) -> float:
        campaign = self.campaigns[f"baseline_{r}"]
        name, url = self.queue(f"seed-{r}")
        child = Child(
            {
                "kind": "baseline",
                "campaign_id": campaign.id,
                "run_id": f"bench__seed_{r}",
                "seconds": self.s.baseline_s,
            },
            queue=name,
            log_path=self.log_path,
        )
        (result,), _, _ = self._timed("seed baseline", [child], None)
        self._per_message("seed baseline", result["sent"])
        depth = self.drop_queue(url)
        self.facts.setdefault("queue_checks", []).append((f"seed baseline {r}", result["sent"], depth))
        self.facts["seed_invocations"] = self.facts.get("seed_invocations", 0) + result["invocations"]
        return result["sent"] / (result["t_end"] - result["t_go"])

    def rounds(self) -> None:
        from benchmarks.seed_baseline import CONTACTS_PER_INVOCATION, SEED_LOOP_S

        s = self.s
        dispatch_cap, shards_cap = s.dispatch_cap_s, s.shards_cap_s
        for r in range(s.runs):
            # The first round fills a queue to the full size (the endpoint must hold its rate there).
            count = s.raw_messages if r == 0 else s.raw_messages // 2
            raw = self.raw(r, 1, count)
            # Enough time to finish at 80% of the ceiling; a slower dispatch is measured over its cap.
            dispatch_cap = max(dispatch_cap, 1.25 * s.dispatch_eligible / raw + 5) if r == 0 else dispatch_cap
            ours, capped, _ = self.dispatch(f"dispatch_{r}", 1, dispatch_cap, "dispatch x1")
            seed = self.baseline(r)
            sharded, sharded_capped, _ = self.dispatch(f"shards_{r}", 2, shards_cap, "dispatch x2 (shards)")
            raw2 = self.raw(r, 2, count)
            self.series_of("raw").add(raw)
            self.series_of("dispatch").add(ours, capped)
            self.series_of("seed").add(seed)
            self.series_of("dispatch/raw").add(ours / raw, capped)
            self.series_of("dispatch/seed").add(ours / seed, capped)
            self.series_of("sharded").add(sharded, sharded_capped)
            self.series_of("sharded/one").add(sharded / ours, sharded_capped or capped)
            self.series_of("raw2/raw1").add(raw2 / raw)
            log(
                f"round {r + 1}/{s.runs}: raw {raw:,.0f}/s, dispatch {ours:,.0f}/s{' (capped)' if capped else ''}, "
                f"seed baseline {seed:,.0f}/s, 2 shards {sharded:,.0f}/s{' (capped)' if sharded_capped else ''}, "
                f"raw x2 {raw2:,.0f}/s"
            )
            # A dispatch that ran into its cap is slow enough to be measured in less time next round.
            if capped:
                dispatch_cap = min(dispatch_cap, 20.0)
            if sharded_capped:
                shards_cap = min(shards_cap, 20.0)
        # What a shard pays for reading the other shards' contacts in its walk (figure 6's gap).
        from benchmarks import claim_shards

        self.notes += claim_shards.notes(claim_shards.measure(self.s.lock_contacts))
        effective = CONTACTS_PER_INVOCATION / SEED_LOOP_S
        self.facts["seed_effective"] = effective
        self.series_of("dispatch/seed_effective").values = [v / effective for v in self.series_of("dispatch").values]

    # Figure 2 -------------------------------------------------------------------------------

    def claim(self) -> None:
        big = self.campaigns["big"]
        child = Child(
            {
                "kind": "claim",
                "campaign_id": big.id,
                "run_id": "bench__claim",
                "seconds": self.s.claim_s,
                "max_contacts": 100_000,
                "whole_limit": min(100_000, big.contacts),
            },
            log_path=self.log_path,
        )
        (result,), _, _ = self._timed("claim", [child], self.s.claim_s + 150)
        result = result or child.partial or {}
        self.facts["claim"] = {k: v for k, v in result.items() if k != "explain"}
        (self.work / "claim_explain.txt").write_text(result.get("explain", ""))
        self.series_of("claim_chunked").add(result.get("chunked_rate"))
        self.series_of("claim_whole").add(result.get("whole_rate"))
        log(
            f"claim: {result.get('chunked_rate') or 0:,.0f} contacts/s in chunks of {result.get('chunk')}"
            f"{' (' + result['cancelled'] + ')' if result.get('cancelled') else ''}, "
            f"{result.get('whole_rate') or 0:,.0f}/s as one statement of {result.get('whole_claimed') or 0:,} rows"
        )
        # What the per-phone locks that make the 24 h caps hold under concurrency cost: the same
        # claim with no cap (no number locked) and with one (every claimed number locked).
        from benchmarks.claim_locks import SETTINGS, measure

        nolock, locked = SETTINGS
        rates = measure(self.s.lock_contacts, self.s.runs)
        for free, held in zip(rates[nolock], rates[locked]):
            self.series_of("claim_nolock").add(free)
            self.series_of("claim_locked").add(held)
            self.series_of("claim_locked/nolock").add(held / free)
        log(
            f"claim locks: {statistics.median(rates[locked]):,.0f}/s locked vs "
            f"{statistics.median(rates[nolock]):,.0f}/s not"
        )
        from benchmarks import claim_floor, claim_profile, claim_rules

        claim_rules.record(self, claim_rules.measure(self.s.lock_contacts, self.s.runs))
        self.notes += claim_profile.notes(claim_profile.measure(self.s.lock_contacts))
        # The bare cost of what any crash-safe claim must write, on this machine: the claim's floor.
        self.notes += claim_floor.notes(claim_floor.measure(max(20_000, 10 * self.s.lock_contacts)))

    def memory(self) -> None:
        """Peak RSS of a dispatch process sending the same number of dial tasks from a small and from
        the 1M campaign: what grows with the campaign, not with the batch, shows up here."""
        from benchmarks.scenarios import fill_hopper

        for key in ("mem_small", "big"):
            campaign = self.campaigns[key]
            run_id = "bench__big" if key == "big" else "bench__mem_small"
            name, url = self.queue(f"mem-{key}")
            child = Child(
                {
                    "kind": "dispatch",
                    "campaign_id": campaign.id,
                    "run_id": run_id,
                    "max_contacts": self.s.memory_contacts,
                },
                queue=name,
                log_path=self.log_path,
            )
            (result,), t_start, t_end = self._timed(f"memory {key}", [child], self.s.memory_cap_s)
            sent = self.sent_in_ledger(run_id)
            self.drop_queue(url)
            self.facts[f"rss_{key}"] = {
                "contacts": campaign.contacts,
                "sent": sent,
                "capped": result is None,
                "ready_mb": child.ready_info["rss_ready_mb"],
                "peak_mb": child.peak_rss_mb,
                "s": t_end - t_start,
            }
            log(
                f"dispatch process on {campaign.contacts:,} contacts, {sent:,} sent"
                f"{' (stopped at its cap)' if result is None else ''}: peak RSS {child.peak_rss_mb:.0f} MB "
                f"({child.peak_rss_mb - child.ready_info['rss_ready_mb']:+.0f} MB while dispatching) "
                f"in {t_end - t_start:.1f} s"
            )
        # The sensor pokes start from a full hopper: the dial tasks in flight are the campaign's max_in_flight.
        big = self.campaigns["big"]
        with env.connect() as conn:
            filled = fill_hopper(conn, big.id, "bench__big", self.s.hopper)
            conn.execute(
                "UPDATE campaigns SET status = 'active', max_in_flight = greatest(1, (SELECT count(*) "
                "FROM dial_tasks WHERE campaign_id = %(id)s AND status IN ('claimed', 'sent'))) "
                "WHERE id = %(id)s",
                {"id": big.id},
            )
        self.facts["hopper_filled"] = filled
        self.pokes_queue = self.queue("pokes")

    # Figure 3 -------------------------------------------------------------------------------

    def pokes(self) -> None:
        big = self.campaigns["big"]
        name, url = self.pokes_queue
        child = Child(
            {
                "kind": "pokes",
                "campaign_id": big.id,
                "run_id": "bench__big",
                "runs": self.s.runs,
                "idle_per_round": 3,
                "records": self.s.poke_records,
                "seconds": self.s.pokes_s,
                "statement_timeout_s": POKE_STATEMENT_TIMEOUT_S,
            },
            queue=name,
            log_path=self.log_path,
            statement_timeout_s=POKE_STATEMENT_TIMEOUT_S,
        )
        (result,), _, _ = self._timed("pokes", [child], self.s.pokes_s + 3 * POKE_STATEMENT_TIMEOUT_S)
        if result is None:
            result = child.partial or {}
            result["failed"] = result.get("failed") or "stopped by the harness at the figure's time budget"
        self.drop_queue(url)
        for key in ("idle_ms", "records_full_ms", "records_ingest_only_ms"):
            for v in result.get(key, []):
                self.series_of(f"poke_{key}").add(v)
        self.facts["pokes"] = result
        log(
            f"pokes: idle {_median(result.get('idle_ms')):,.0f} ms, after {result.get('records', 0):,} records "
            f"{_median(result.get('records_full_ms')):,.0f} ms with top-up, "
            f"{_median(result.get('records_ingest_only_ms')):,.0f} ms with dispatch off"
            f"{'; ' + result['failed'] if result.get('failed') else ''}"
        )

    # Figure 5 -------------------------------------------------------------------------------

    def report(self) -> None:
        big = self.campaigns["big"]
        child = Child(
            {
                "kind": "report",
                "campaign_id": big.id,
                "run_id": "bench__big",
                "runs": self.s.runs,
                "seconds": self.s.report_s,
                "tmp_dir": str(self.work),
            },
            log_path=self.log_path,
        )
        (result,), _, _ = self._timed("report", [child], self.s.report_s + STATEMENT_TIMEOUT_S + 30)
        result = result or child.partial or {"total_s": [], "build_s": [], "csv_s": []}
        for total, build, csv in zip(result["total_s"], result["build_s"], result["csv_s"]):
            self.series_of("report").add(total)
            self.series_of("report_build").add(build)
            self.series_of("report_csv").add(csv)
        self.facts["report"] = result
        if result["total_s"]:
            log(
                f"report: {statistics.median(result['total_s']):.1f} s "
                f"(build_report {statistics.median(result['build_s']):.1f} s beside the CSV of "
                f"{result['csv_rows']:,} rows {statistics.median(result['csv_s']):.1f} s)"
            )

    # Figure 4 -------------------------------------------------------------------------------

    def parsing(self) -> None:
        from benchmarks import parsing

        floor_dir = self.work / "floor"
        count = parsing.export_floor_inputs(floor_dir)
        self.facts["parsed_campaigns"] = count
        big_slug = self.campaigns["big"].slug
        for r in range(self.s.runs):
            # Serialization (the processor's next step) costs as much again; once is enough to compare it.
            ours = parsing.parse_file(parsing.DAG_FILE, serialize=r == 0)
            floor = parsing.parse_file(
                parsing.FLOOR_FILE, serialize=r == 0, env_extra={"BENCH_FLOOR_DIR": str(floor_dir)}
            )
            # The same floor split as the DAG files are (a process per file): both sides then pay
            # Airflow's own start-up work per process, and hold a quarter of the DAGs each.
            floor_split = parsing.parse_floor_set(floor_dir, serialize=False)
            for label, res in (("ours", ours), ("floor", floor), ("split floor", floor_split)):
                if res["import_errors"] or res["dags"] != count:
                    raise RuntimeError(f"{label} parse found {res['dags']} DAGs of {count}: {res['import_errors']}")
            self.series_of("parse_ours").add(ours["parse_s"])
            self.series_of("parse_floor").add(floor["parse_s"])
            self.series_of("parse_ratio").add(ours["parse_s"] / floor["parse_s"])
            self.series_of("parse_floor_split").add(floor_split["parse_s"])
            self.series_of("parse_ratio_split").add(ours["parse_s"] / floor_split["parse_s"])
            if r == 0:
                self.series_of("serialize_ours").add(ours["serialize_s"])
                self.series_of("parse_serialize_ratio").add(
                    (ours["parse_s"] + ours["serialize_s"]) / (floor["parse_s"] + floor["serialize_s"])
                )
            worker = parsing.parse_file(
                parsing.DAG_FILE,
                serialize=False,
                worker=True,
                env_extra={"_AIRFLOW_PARSING_CONTEXT_DAG_ID": f"campaign_{big_slug}"},
            )
            if worker["dags"] != 1:
                raise RuntimeError(f"worker parse built {worker['dags']} DAGs: {worker['import_errors']}")
            self.series_of("worker_parse_ms").add(1000 * worker["parse_s"])
            floor_one = parsing.parse_file(
                parsing.FLOOR_FILE, serialize=False, worker=True, env_extra={"BENCH_FLOOR_DIR": str(floor_dir / "one")}
            )
            self.series_of("worker_floor_ms").add(1000 * floor_one["parse_s"])
            self.series_of("import_sdk_ms").add(1000 * worker["import_sdk_s"])
            log(
                f"parse {count} campaigns: ours {ours['parse_s']:.2f} s, floor {floor['parse_s']:.2f} s "
                f"(split like the DAG files {floor_split['parse_s']:.2f} s); "
                f"worker path {1000 * worker['parse_s']:.0f} ms over import airflow.sdk "
                f"({1000 * worker['import_sdk_s']:.0f} ms), its floor {1000 * floor_one['parse_s']:.0f} ms"
            )

    # The table --------------------------------------------------------------------------------

    def table(self) -> list[tuple[str, str, str, str, str]]:
        s, S = self.s, self.series_of

        def rate(v):
            return f"{v:,.0f}/s"

        def ratio(v):
            return f"{v:.2f}x"

        def ms(v):
            return f"{v:,.0f} ms"

        def sec(v):
            return f"{v:.2f} s"

        rows = []

        def row(label, series, fmt, target="", ok=None, missing=None):
            if not series.values:
                rows.append(
                    (
                        label,
                        f"did not finish: {missing}" if missing else "not measured",
                        "",
                        target,
                        "NOT met" if missing and ok else "—",
                    )
                )
                return
            med = series.median
            spread = f"{fmt(min(series.values))} – {fmt(max(series.values))}" if len(series.values) > 1 else ""
            runs = f" ({len(series.values)} runs{', ' + str(series.capped) + ' capped' if series.capped else ''})"
            verdict = "—" if ok is None else ("met" if ok(med) else "NOT met")
            rows.append((label, fmt(med) + runs, spread, target, verdict))

        n = f"{s.dispatch_eligible:,}"
        row(
            f"1. Raw sender: pre-built dial tasks, one boto3 client ({s.raw_messages:,} msgs)",
            S("raw"),
            rate,
            "ceiling",
        )
        row(f"1. Dispatch end to end, {n} eligible contacts", S("dispatch"), rate, "")
        row("1. Dispatch ÷ raw sender (same round)", S("dispatch/raw"), ratio, "≥ 0.80x", lambda v: v >= 0.8)
        row("1. Seed-faithful baseline (100/invocation, per-contact lookups)", S("seed"), rate, "")
        row("1. Dispatch ÷ seed baseline (same round)", S("dispatch/seed"), ratio, "≥ 3x", lambda v: v >= 3)
        row(
            f"1. Dispatch ÷ seed effective rate ({self.facts.get('seed_effective', 100 / 60):.2f}/s: 100 per 60 s loop)",
            S("dispatch/seed_effective"),
            lambda v: f"{v:,.0f}x",
            "",
        )
        row(
            f"2. Eligibility + claim in PostgreSQL, {s.big_contacts:,}-contact campaign (as dispatch claims, "
            f"{(self.facts.get('claim') or {}).get('chunk')} per statement)",
            S("claim_chunked"),
            rate,
            "≥ 100,000/s",
            lambda v: v >= 100_000,
        )
        row(
            "2. Same, 100,000 contacts in one claim statement",
            S("claim_whole"),
            rate,
            "≥ 100,000/s",
            lambda v: v >= 100_000,
        )
        row(f"2. Claim, {s.lock_contacts:,} contacts, no cap: nothing locked", S("claim_nolock"), rate, "")
        row("2. Same with a 24 h cap: every number locked (per-phone serialization)", S("claim_locked"), rate, "")
        row("2. Claim with per-phone locks ÷ without (same round)", S("claim_locked/nolock"), ratio, "")
        row(
            "2. Claim under the full calling rules (mixed US states, composite keys, CA, GB)",
            S("claim_rules_full"),
            rate,
            "",
        )
        row(
            "2. Same contacts under a minimal set equal to the old flat legal-hours file",
            S("claim_rules_minimal"),
            rate,
            "",
        )
        row(
            "2. Claim, full rules ÷ minimal (same round)",
            S("claim_rules_full/minimal"),
            ratio,
            "≥ 0.90x",
            lambda v: v >= 0.9,
        )
        small, big = self.facts.get("rss_mem_small"), self.facts.get("rss_big")
        if small and big:
            grew = big["peak_mb"] / small["peak_mb"]
            rows.append(
                (
                    f"2. Dispatch process peak RSS, {big['contacts']:,} vs {small['contacts']:,} contacts "
                    f"({big['sent']:,} / {small['sent']:,} sent)",
                    f"{big['peak_mb']:.0f} MB vs {small['peak_mb']:.0f} MB ({grew:.2f}x)",
                    "",
                    "no growth (≤ 1.10x)",
                    "met" if grew <= 1.10 else "NOT met",
                )
            )
        row("3. Sensor poke, nothing changed", S("poke_idle_ms"), ms, "≤ 20 ms", lambda v: v <= 20)
        poke_failure = (self.facts.get("pokes") or {}).get("failed")
        row(
            f"3. Sensor poke, {(self.facts.get('pokes') or {}).get('records', s.poke_records):,} new call records "
            "(ingest + top-up)",
            S("poke_records_full_ms"),
            ms,
            "≤ 1 s",
            lambda v: v <= 1000,
            missing=poke_failure,
        )
        row(
            "3. Same, Param dispatch off (ingest and aggregate only)",
            S("poke_records_ingest_only_ms"),
            ms,
            "≤ 1 s",
            lambda v: v <= 1000,
        )
        eligibility.rows(self, row, sec)
        row(
            f"4. Parse the campaign DAG files (4, a process each), {self.facts.get('parsed_campaigns', s.catalog):,} campaigns",
            S("parse_ours"),
            sec,
            "< 5 s",
            lambda v: v < 5,
        )
        row("4. Floor: same DAGs, empty callables", S("parse_floor"), sec, "")
        row("4. Parse ÷ floor (same round)", S("parse_ratio"), ratio, "≤ 1.3x", lambda v: v <= 1.3)
        row("4. Floor split like the DAG files (4, a process each)", S("parse_floor_split"), sec, "")
        row("4. Parse ÷ split floor (same round)", S("parse_ratio_split"), ratio, "")
        row("4. Parse + serialize ÷ floor's (the whole dag-processor step)", S("parse_serialize_ratio"), ratio, "")
        row(
            "4. Worker path: one campaign parsed, over import airflow.sdk",
            S("worker_parse_ms"),
            ms,
            "≤ 100 ms",
            lambda v: v <= 100,
        )
        row("4. Worker path floor: one DAG of the same shape, empty callables", S("worker_floor_ms"), ms, "")
        row(
            f"5. Report: build_report + CSV (side by side, one snapshot), {s.big_contacts:,} contacts, "
            f"{s.history_records:,} call records",
            S("report"),
            sec,
            "≤ 3 s",
            lambda v: v <= 3,
        )
        row(
            "6. Dispatch, 2 processes (shards) ÷ 1 process (same round)",
            S("sharded/one"),
            ratio,
            "≥ 1.6x",
            lambda v: v >= 1.6,
        )
        row("6. Machine ceiling: raw sender x2 ÷ x1", S("raw2/raw1"), ratio, "")
        return rows


def _pg_activity() -> dict[str, float]:
    """What the whole cluster did besides our statements, as counters: WAL records and full-page
    images (a page's first change after a checkpoint starts writes all of it), and the autovacuum
    and autoanalyze runs finished. The cluster's CPU counter includes all of it."""
    with env.connect() as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        wal = conn.execute("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal").fetchone()
        auto = conn.execute(
            "SELECT coalesce(sum(autovacuum_count), 0), coalesce(sum(autoanalyze_count), 0) FROM pg_stat_all_tables"
        ).fetchone()
    return {
        "wal_records": float(wal[0]),
        "wal_fpi": float(wal[1]),
        "wal_bytes": float(wal[2]),
        "autovacuums": float(auto[0]),
        "autoanalyzes": float(auto[1]),
    }


def _shown(path: Path) -> str:
    """A path inside the tree as the tree names it, so the results do not carry the machine's."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _median(values):
    return statistics.median(values) if values else float("nan")


def render(machine: dict, rows: list, bench: Bench, started: float) -> str:
    lines = ["# Benchmark results (`make bench`)", ""]
    lines += [f"- **{k}**: {v}" for k, v in machine.items()]
    lines += [
        f"- **Wall time of this bench**: {time.time() - started:.0f} s (scale {bench.s.scale}, {bench.s.runs} rounds)",
        "",
    ]
    lines += ["| Figure | Median (runs) | Min – max | Target | Verdict |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
    lines += ["", "## Details", ""]
    f = bench.facts
    big = bench.campaigns.get("big")
    if big:
        lines.append(
            f"- Data: {big.contacts:,} contacts in campaign `{big.slug}` ({big.eligible:,} eligible now, "
            f"{big.pg_blacklisted:,} on the PostgreSQL blacklist, {big.redis_only:,} on the Redis opt-out "
            f"set only, {big.invalid:,} invalid numbers), {big.history:,} historical call records "
            f"(with their dial tasks); generated in {f.get('data_s', 0):.0f} s."
        )
    lines.append(f"- Places open now: {f.get('places_open')}; closed: {f.get('places_closed')}.")
    check = f.get("resolve_check") or {}
    if check:
        lines.append(
            f"- Contacts are stored resolved by SQL; {check['sampled']:,} random ones re-resolved with "
            f"`phones.resolve` matched exactly (resolve runs at ~{check['resolve_per_s']:,.0f} contacts/s, "
            f"so running `resolve_contacts` over 1M would add ~{1e6 / check['resolve_per_s']:.0f} s)."
        )
    raw_first, raw_last = bench.series_of("raw_first_tenth"), bench.series_of("raw_last_tenth")
    if raw_first.values:
        lines.append(
            f"- fauxqs holds its rate as the queue fills: raw sender {raw_first.median:,.0f}/s over its first "
            f"tenth, {raw_last.median:,.0f}/s over its last (up to {bench.s.raw_messages:,} queued)."
        )
    checks = f.get("queue_checks") or []
    if checks:
        bad = [c for c in checks if c[1] != c[2]]
        lines.append(
            f"- Every run's queue held exactly what its sender counted as sent ({len(checks)} checks"
            + (f"; MISMATCHES: {bad}" if bad else "")
            + ")."
        )
    claim = f.get("claim") or {}
    if claim:
        stmts = claim.get("statement_s") or []
        slowest = f"; statement times {min(stmts):.1f}–{max(stmts):.1f} s" if stmts else ""
        lines.append(
            f"- Claim: {claim.get('chunked_claimed') or 0:,} contacts in {claim.get('chunked_statements')} "
            f"statements of {claim.get('chunk')} in {claim.get('chunked_s', 0):.1f} s (cap "
            f"{bench.s.claim_s:.0f} s{slowest}{'; ' + claim['cancelled'] if claim.get('cancelled') else ''}); "
            f"one statement claimed {claim.get('whole_claimed') or 0:,} in {claim.get('whole_s') or 0:.1f} s "
            f"(EXPLAIN ANALYZE of one chunk: {_shown(bench.work / 'claim_explain.txt')}). All rolled back."
        )
    for key in ("rss_mem_small", "rss_big"):
        m = f.get(key)
        if m:
            lines.append(
                f"- Dispatch process, {m['contacts']:,}-contact campaign, {m['sent']:,} sent in {m['s']:.1f} s"
                f"{' (stopped at its cap)' if m.get('capped') else ''}: "
                f"RSS {m['ready_mb']:.0f} MB after imports, peak {m['peak_mb']:.0f} MB."
            )
    growth = bench.series_of("dispatch_rss_growth_mb")
    if growth.values:
        lines.append(
            f"- RSS growth while dispatching (figure 1 and 6 processes): median {growth.median:.0f} MB, "
            f"max {max(growth.values):.0f} MB."
        )
    cpu_lines = []
    for label, entries in bench.cpu_log.items():
        entries = [e for e in entries if e.get("sent")]
        if not entries:
            continue
        per = {k: statistics.median(1e6 * e[k] / e["sent"] for e in entries) for k in ("workers", "postgres", "fauxqs")}
        total = sum(per.values())
        wal = {k: statistics.median(e.get(k, 0) / e["sent"] for e in entries) for k in ("wal_records", "wal_fpi")}
        wal_kb = statistics.median(e.get("wal_bytes", 0) / 1024 / e["sent"] for e in entries)
        autos = sum(int(e.get("autovacuums", 0) + e.get("autoanalyzes", 0)) for e in entries)
        cpu_lines.append(
            f"| {label} | {per['workers']:,.0f} | {per['postgres']:,.0f} | {per['fauxqs']:,.0f} | "
            f"{total:,.0f} | {2e6 / total:,.0f}/s | {wal['wal_records']:.1f} / {wal['wal_fpi']:.2f} / {wal_kb:.1f} | "
            f"{autos} |"
        )
    if cpu_lines:
        lines += [
            "",
            "CPU time per dial task sent (µs, median over runs), from the processes' own counters: the "
            "Python sender(s), the whole PostgreSQL cluster, fauxqs. With 2 cores, 2 s of CPU per second is "
            "the most any pipeline can use, so 2,000,000 / total is the rate this CPU cost allows.",
            "",
            "The WAL column is per dial task: records / full-page images / kB. Autovacuum is the autovacuum "
            "and autoanalyze runs that finished during the runs (all rounds): their CPU is in the cluster's.",
            "",
            "| Run | Python | PostgreSQL | fauxqs | Total | 2-core bound | WAL | Autovacuum |",
            "|---|---|---|---|---|---|---|---|",
            *cpu_lines,
            "",
        ]
    pokes = f.get("pokes")
    if pokes:
        lines.append(
            f"- First poke of a fresh process (lazy imports, client set-up): {pokes['first_poke_ms']:,.0f} ms."
        )
        for label in ("idle", "records_full", "records_ingest_only"):
            parts = "; ".join(f"{name} {t:,.0f} ms ×{c:g}" for name, t, c in pokes.get(f"{label}_breakdown", []))
            lines.append(f"- Poke `{label}` per poke: {parts}.")
    lines += eligibility.details(bench)
    rep = f.get("report")
    if rep:
        parts = "; ".join(f"{name} {t:,.0f} ms" for name, t, _ in rep.get("breakdown", []))
        lines.append(
            f"- Report: build_report {_median(rep['build_s']):.1f} s ({parts}); beside it, on a second "
            f"connection in the same snapshot, CSV streaming {_median(rep['csv_s']):.1f} s for "
            f"{rep['csv_rows']:,} rows ({rep['csv_mb']:.0f} MB)."
        )
        if rep.get("floor_ms"):
            floor = rep["floor_ms"]
            lines.append(
                f"- Report floor: one plain pass over the campaign's contacts {floor['contacts']:,.0f} ms, over "
                f"its call records {floor['call_records']:,.0f} ms (a count of a column, parallel workers allowed)."
            )
    for note in bench.notes:
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="data sizes (1.0: the target sizes)")
    parser.add_argument("--runs", type=int, default=3, help="rounds of each figure (median, min-max)")
    parser.add_argument("--output", type=Path, default=RESULTS_MD, help="where the table is written")
    parser.add_argument("--keep-stack", action="store_true", help="leave the bench stack running afterwards")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="figures to measure, e.g. 1,6 (default: all)")
    args = parser.parse_args(argv)
    settings = Settings(scale=args.scale, runs=args.runs).scaled()
    started = time.time()

    log(f"bench stack at {env.stack_dir()}")
    env.stack_dir().mkdir(parents=True, exist_ok=True)
    lock = open(env.stack_dir() / "bench.lock", "w")  # noqa: SIM115 - the lock is held until the process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another bench is running on {env.stack_dir()} (it recreates the database); "
            "wait for it, or set CAMPAIGN_STACK_DIR to another folder"
        ) from None
    _, started_stack = env.start_stack()
    from benchmarks.transport import Fauxqs

    fauxqs = Fauxqs(env.stack_dir())
    try:
        fauxqs.start()
        log(f"fauxqs {fauxqs.endpoint}")
        os.environ["AIRFLOW_CONN_CAMPAIGNS_AWS"] = fauxqs.connection_json()
        bench = Bench(settings, fauxqs)
        bench.generate()
        machine = env.machine()
        only = {int(f) for f in args.only.split(",") if f.strip()}
        if 2 in only:
            bench.claim()
        if only & {1, 6}:
            bench.rounds()
        if only & {2, 3, 5}:
            bench.memory()  # also fills the 1M campaign's hopper for the pokes
        if 3 in only:
            bench.pokes()
            eligibility.measure(bench)
        if 5 in only:
            bench.report()
        if 4 in only:
            bench.parsing()
        rows = bench.table()
        text = render(machine, rows, bench, started)
        print("\n" + text)
        args.output.write_text(text)
        log(f"written to {args.output}")
    finally:
        kill_all_children()
        fauxqs.stop()
        if started_stack and not args.keep_stack:
            env.stop_stack()
    return 0
