"""A fleet of campaigns under Airflow's real scheduler: how many 60 s pokes two cores sustain.

    make bench-fleet        (or: CAMPAIGN_STACK_DIR=.stack/bench-fleet python -m benchmarks.fleet)

For each executor (LocalExecutor, then Celery with two workers) the Airflow components start once
on the bench stack; the fleet then grows to each size in turn: every campaign is one-off, has
CONTACTS contacts in an open calling window and a 60 s poke interval, and the dialer simulator
answers none of them (no_answer, retried in an hour), so every run keeps poking through the
measurement. Once every campaign of the fleet has poked, a window of FLEET_WINDOW_S seconds is
measured:

    poke lag          a poke's end minus the previous poke's end, minus the 60 s interval (Airflow
                      records when a poke ended, not when it started)
    CPU per poke      the CPU of everything the executor runs (the LocalExecutor's worker
                      processes, or the Celery workers' process trees): process start, parse, run,
                      exit, divided by the pokes in the window
    poke wall         a poke's run in its task process (the task instance's start to end)
    scheduler CPU     the scheduler process's own CPU, in cores
    scheduler loop    the scheduler's "Ran scheduling loop" times (its module logs at DEBUG)
    DB connections    connections to the campaign database, sampled
    our code          one poke's work (include.campaigns.progress.poke) timed in this process, warm:
                      its modules already imported, as in a task process forked from a preloading
                      parent (airflow_local_settings.py)

Settings (environment):
    FLEET_SIZES         campaign counts, ascending (default 25,50,100)
    FLEET_EXECUTORS     local,celery (default both)
    FLEET_WINDOW_S      the measured window per size (default 120)
    FLEET_CONTACTS      contacts per campaign (default 20)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dev import stack

POKE_S = 60
LAG_TARGET_S = 15
SETTLE_TIMEOUT_S = 420
SAMPLE_EVERY_S = 2.0
LOOP_LINE = re.compile(r"^(\S+)\s.*Ran scheduling loop in ([0-9.]+) ms")


def say(message: str) -> None:
    print(message, flush=True)


def _sizes() -> list[int]:
    return sorted(int(n) for n in (os.environ.get("FLEET_SIZES") or "25,50,100").split(","))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# The fleet ---------------------------------------------------------------------------------


def retire_earlier_fleets(conn) -> None:
    conn.execute("UPDATE campaigns SET status = 'archived' WHERE slug LIKE 'fleet\\_%' AND status <> 'archived'")


def add_campaigns(conn, prefix: str, first: int, last: int, contacts: int, queue_url: str) -> list[str]:
    from dev.seed import add_contacts, create_campaign
    from tests.helpers import open_zone, us_numbers

    now = datetime.now(timezone.utc)
    zone = open_zone()
    dag_ids = []
    for i in range(first, last):
        slug = f"{prefix}_{i:03d}"
        campaign_id = create_campaign(
            conn,
            slug,
            start_at=now - timedelta(minutes=1),
            end_at=now + timedelta(hours=3),
            poke_interval_s=POKE_S,
            max_in_flight=contacts * 2,
            config={
                "dial_queue": queue_url,
                "skip_public_holidays": False,
                "max_attempts": 3,
                "calling_window": {"start": "00:00", "end": "23:59"},
                "retry_delays_s": {"no_answer": 3600},
            },
        )
        add_contacts(
            conn,
            campaign_id,
            [{"phone": p, "timezone": zone} for p in us_numbers(contacts, seed=10_000 + i, area="646")],
        )
        dag_ids.append(f"campaign_{slug}")
    return dag_ids


def pause_all_campaign_dags() -> None:
    from sqlalchemy import update

    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id.like("campaign\\_fleet\\_%")).values(is_paused=True))


def poking(dag_ids: list[str]) -> int:
    """How many of these DAGs' sensors have poked at least once."""
    from sqlalchemy import func, select

    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.scalar(
                select(func.count(func.distinct(TaskInstance.dag_id)))
                .join(TaskReschedule, TaskReschedule.ti_id == TaskInstance.id)
                .where(TaskInstance.dag_id.in_(dag_ids), TaskInstance.task_id == "wait_for_completion")
            )
            or 0
        )


def reschedules(dag_ids: list[str]) -> dict[str, list[datetime]]:
    """When each poke ended, per DAG. Airflow's task_reschedule rows record a poke's end (its
    start_date is when the reschedule was written, after the poke), not the poke's start."""
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.dag_id, TaskReschedule.end_date)
            .join(TaskReschedule, TaskReschedule.ti_id == TaskInstance.id)
            .where(TaskInstance.dag_id.in_(dag_ids), TaskInstance.task_id == "wait_for_completion")
            .order_by(TaskReschedule.end_date)
        ).all()
    out: dict[str, list] = {}
    for dag_id, end in rows:
        out.setdefault(dag_id, []).append(end)
    return out


def last_pokes(dag_ids: list[str]) -> set[tuple[str, datetime, datetime]]:
    """The last finished poke of each sensor waiting for its next: (dag_id, start, end)."""
    from sqlalchemy import select

    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.dag_id, TaskInstance.start_date, TaskInstance.end_date).where(
                TaskInstance.dag_id.in_(dag_ids),
                TaskInstance.task_id == "wait_for_completion",
                TaskInstance.state == "up_for_reschedule",
            )
        ).all()
    return {tuple(r) for r in rows if r[1] and r[2]}


# Measuring ---------------------------------------------------------------------------------


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and all their descendants, reaped ones included."""
    import psutil

    total, seen = 0.0, set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for p in procs:
            if p.pid in seen:
                continue
            seen.add(p.pid)
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
    return total


def executor_pids(children, which: str) -> list[int]:
    """The processes that run task instances: the LocalExecutor's workers (the scheduler's
    children), or the Celery workers."""
    import psutil

    if which == "celery":
        return [c.proc.pid for c in children.children if c.name.startswith("worker-") and c.alive()]
    scheduler = next(c for c in children.children if c.name == "scheduler")
    try:
        return [p.pid for p in psutil.Process(scheduler.proc.pid).children()]
    except psutil.Error:
        return []


def own_cpu(pid: int) -> float:
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


def campaign_connections(conn) -> int:
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone()[0]


def loop_times(log: Path, since: datetime, until: datetime) -> list[float]:
    out: list[float] = []
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        m = LOOP_LINE.match(line)
        if not m:
            continue
        try:
            at = datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
        except ValueError:
            continue
        if since <= at <= until:
            out.append(float(m.group(2)))
    return out


def our_poke_cost(conn, dag_ids: list[str], samples: int = 5) -> tuple[float, float] | None:
    """Wall and CPU seconds of include.campaigns.progress.poke, run here for a few campaigns."""
    from airflow.models import DagRun

    from include.campaigns.dag_factory import _run_context
    from include.campaigns.progress import poke

    walls, cpus = [], []
    for dag_id in dag_ids[:samples]:
        runs = DagRun.find(dag_id=dag_id)
        if not runs:
            continue
        dag_run = runs[0]
        campaign_id = conn.execute(
            "SELECT id FROM campaigns WHERE slug = %s", (dag_id.removeprefix("campaign_"),)
        ).fetchone()[0]
        params = {"dry_run": False, "max_contacts": None, "dispatch": True, "notify": True, **(dag_run.conf or {})}
        _, run = _run_context(conn, campaign_id, {"dag_run": dag_run, "params": params})
        wall, cpu = time.monotonic(), time.process_time()
        poke(conn, campaign_id, run)
        walls.append(time.monotonic() - wall)
        cpus.append(time.process_time() - cpu)
    if not walls:
        return None
    return statistics.mean(walls), statistics.mean(cpus)


def measure(conn, children, which: str, dag_ids: list[str], window_s: float, scheduler_log: Path) -> dict:
    import psutil

    since = datetime.now(timezone.utc)
    pids = executor_pids(children, which)
    scheduler = next(c for c in children.children if c.name == "scheduler").proc.pid
    cpu0, sched0, machine0 = tree_cpu(pids), own_cpu(scheduler), psutil.cpu_times()
    load0 = os.getloadavg()[0]
    conns, pokes_seen = [], set()
    end = time.monotonic() + window_s
    while time.monotonic() < end:
        conns.append(campaign_connections(conn))
        pokes_seen |= last_pokes(dag_ids)
        if children.dead():
            raise RuntimeError("an Airflow component stopped: " + ", ".join(c.name for c in children.dead()))
        time.sleep(SAMPLE_EVERY_S)
    cpu1, sched1, machine1 = tree_cpu(executor_pids(children, which)), own_cpu(scheduler), psutil.cpu_times()
    until = datetime.now(timezone.utc)
    lags, pokes = [], 0
    for ends in reschedules(dag_ids).values():
        pokes += sum(1 for e in ends if since <= e <= until)
        # A poke's end to the next's, minus the interval: the poke's own run time is in both ends.
        lags += [(b - a).total_seconds() - POKE_S for a, b in zip(ends, ends[1:]) if since <= b <= until]
    walls = [(e - s).total_seconds() for _, s, e in pokes_seen if since <= s <= until]
    elapsed = max(1.0, (until - since).total_seconds())
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "nice", "irq", "softirq"))
    loops = loop_times(scheduler_log, since, until)
    return {
        "executor": which,
        "campaigns": len(dag_ids),
        "window_s": round((until - since).total_seconds()),
        "pokes": pokes,
        "expected_pokes": round(len(dag_ids) * window_s / POKE_S),
        "lag_p50_s": _pct(lags, 0.5),
        "lag_p95_s": _pct(lags, 0.95),
        "lag_samples": len(lags),
        "poke_wall_p50_s": _pct(walls, 0.5),
        "cpu_per_poke_s": (cpu1 - cpu0) / pokes if pokes else None,
        "machine_busy_cores": busy / elapsed,
        "scheduler_cores": (sched1 - sched0) / elapsed,
        "loop_p50_ms": _pct(loops, 0.5),
        "loop_p95_ms": _pct(loops, 0.95),
        "loop_samples": len(loops),
        "db_conns_max": max(conns) if conns else None,
        "db_conns_mean": statistics.mean(conns) if conns else None,
        # The machine is shared: its 1-minute load average as the window opened and closed.
        "load_start": round(load0, 1),
        "load_end": round(os.getloadavg()[0], 1),
    }


# Main -------------------------------------------------------------------------------------


def run_executor(
    which: str, stack_env: dict[str, str], queue_url: str, sizes: list[int], window_s: float, contacts: int
) -> list[dict]:
    from dev import airflow_local, celery_local
    from include.campaigns.dag_factory import DEADLINE_ALERTS_ENV, DEFAULT_MIN_POKE_S, MIN_POKE_ENV
    from include.campaigns.db import campaign_db

    port = airflow_local.free_port()
    env = airflow_local.airflow_env(stack_env, port, which)
    env[DEADLINE_ALERTS_ENV] = "on"
    env[MIN_POKE_ENV] = str(DEFAULT_MIN_POKE_S)
    env["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] = "airflow.jobs.scheduler_job_runner=DEBUG"
    log_dir = airflow_local.log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    airflow = str(Path(sys.executable).parent / "airflow")
    prefix = f"fleet_{which}_{int(time.time())}"
    rows = []
    with campaign_db() as conn:
        retire_earlier_fleets(conn)
        pause_all_campaign_dags()
        children = airflow_local.Children(env)
        try:
            airflow_local.start_components(children, airflow, port, which)
            base = f"http://127.0.0.1:{port}"
            started = time.monotonic()
            while not airflow_local.healthy(base):
                if children.dead() or time.monotonic() - started > airflow_local.READY_TIMEOUT_S:
                    raise RuntimeError(f"{which}: Airflow did not start; see {log_dir}/")
                time.sleep(2)
            if which == "celery" and not celery_local.wait_until_answering(celery_local.WORKERS, env):
                raise RuntimeError("the Celery workers did not answer")
            say(f"{which}: Airflow up in {time.monotonic() - started:.0f} s")
            dag_ids: list[str] = []
            for size in sizes:
                dag_ids += add_campaigns(conn, prefix, len(dag_ids), size, contacts, queue_url)
                settle = time.monotonic()
                while (active := poking(dag_ids)) < len(dag_ids):
                    if time.monotonic() - settle > SETTLE_TIMEOUT_S or children.dead():
                        break
                    time.sleep(5)
                say(
                    f"{which} N={size}: {active} of {len(dag_ids)} campaigns poking after "
                    f"{time.monotonic() - settle:.0f} s; measuring {window_s:.0f} s"
                )
                row = measure(conn, children, which, dag_ids, window_s, log_dir / "scheduler.log")
                row["settle_s"] = round(time.monotonic() - settle - row["window_s"])
                row["poking_at_start"] = active
                ours = our_poke_cost(conn, dag_ids)
                row["our_poke_wall_s"], row["our_poke_cpu_s"] = ours or (None, None)
                say(json.dumps(row))
                rows.append(row)
        finally:
            children.stop()
            pause_all_campaign_dags()
            retire_earlier_fleets(conn)
    return rows


def _f(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[dict]) -> str:
    lines = [
        "| executor | N | pokes (expected) | lag p50 / p95 s | poke wall p50 s | CPU per poke s | "
        "our code CPU s | scheduler cores | machine busy cores | load 1 min | loop p50 / p95 ms | "
        "campaign DB conns max (mean) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['executor']} | {r['campaigns']} | {r['pokes']} ({r['expected_pokes']}) | "
            f"{_f(r['lag_p50_s'], '.1f')} / {_f(r['lag_p95_s'], '.1f')} | {_f(r['poke_wall_p50_s'], '.1f')} | "
            f"{_f(r['cpu_per_poke_s'], '.2f')} | {_f(r['our_poke_cpu_s'], '.3f')} | "
            f"{_f(r['scheduler_cores'], '.2f')} | {_f(r['machine_busy_cores'], '.2f')} | "
            f"{_f(r.get('load_start'), '.1f')}–{_f(r.get('load_end'), '.1f')} | {_f(r['loop_p50_ms'], '.0f')} / {_f(r['loop_p95_ms'], '.0f')} | "
            f"{_f(r['db_conns_max'], 'd')} ({_f(r['db_conns_mean'], '.0f')}) |"
        )
    return "\n".join(lines)


def knee(rows: list[dict], which: str) -> str:
    mine = [r for r in rows if r["executor"] == which]
    # Sustained: every campaign of the fleet got its run going, and its pokes keep the interval.
    ok = [
        r["campaigns"]
        for r in mine
        if r["lag_p95_s"] is not None
        and r["lag_p95_s"] <= LAG_TARGET_S
        and r.get("poking_at_start", r["campaigns"]) == r["campaigns"]
    ]
    bad = [r["campaigns"] for r in mine if r["campaigns"] not in ok]
    if not mine:
        return f"{which}: not measured"
    return f"{which}: sustains {max(ok) if ok else 'none of the sizes'}" + (
        f"; misses the target from N={min(bad)}" if bad else "; the knee is above the largest size"
    )


def main() -> int:
    from dev.dialer_simulator import DialerSimulator

    sizes = _sizes()
    executors = [e.strip() for e in (os.environ.get("FLEET_EXECUTORS") or "local,celery").split(",") if e.strip()]
    window_s = float(os.environ.get("FLEET_WINDOW_S") or 120)
    contacts = int(os.environ.get("FLEET_CONTACTS") or 20)
    began = time.monotonic()
    say(f"Starting the bench stack under {stack.stack_dir()} ...")
    stack_env = stack.start()
    os.environ.update(stack_env)
    from include.campaigns.resources import sqs_client

    sqs = sqs_client()
    queue_url = sqs.create_queue(QueueName="fleet-dial-tasks", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    dialer = DialerSimulator(queue_url, {"no_answer": 1.0}, seed=1).start()
    rows = []
    try:
        for which in executors:
            rows += run_executor(which, stack_env, queue_url, sizes, window_s, contacts)
    finally:
        dialer.stop()
    import platform

    import psutil

    say(
        f"\nFleet benchmark: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"{platform.platform()}; {window_s:.0f} s window per size, {contacts} contacts per campaign, "
        f"{POKE_S} s pokes; {time.monotonic() - began:.0f} s in all\n"
    )
    say(table(rows))
    say("")
    for which in executors:
        say(knee(rows, which))
    out = stack.stack_dir() / "fleet-results.json"
    out.write_text(json.dumps(rows, indent=1, default=str))
    say(f"\n(rows in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
