"""The CeleryExecutor on the embedded stack: what `make airflow EXECUTOR=celery` adds.

The scheduler queues task instances on Celery (the embedded Redis as the broker, Airflow's
metadata database as the result backend) and two `airflow celery worker` processes run them,
each under its own host name. The settings are the ones docker-compose.yaml gives its Celery
services (tests/test_compose.py checks that they agree); only what one machine forces differs:
addresses, ports, and each worker's host name, which compose gets from its container.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

WORKERS = ("worker-1", "worker-2")
# What a task instance records as its host: the worker's name, so that two workers on one machine
# tell apart in the UI and in task_instance.hostname as two containers do.
WORKER_NAME_ENV = "CAMPAIGN_WORKER_NAME"
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
# Each worker's task slots. The same in docker-compose.yaml; the campaign_db pool bounds the
# heavy tasks across all workers.
WORKER_CONCURRENCY = 8


def worker_hostname() -> str:
    """[core] hostname_callable for the workers (and the task processes they start)."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


def celery_host(name: str) -> str:
    return f"{name}@{socket.gethostname()}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def celery_env(env: dict[str, str]) -> dict[str, str]:
    """The executor's settings, from the environment the other components run under."""
    redis_port = json.loads(env["AIRFLOW_CONN_CAMPAIGNS_REDIS"])["port"]
    metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        # As in compose: Celery owns Redis db 0 (the campaign opt-out set lives in db 1), and its
        # results go to the metadata database.
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata.replace("postgresql+psycopg2://", "postgresql://", 1),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # Compose's scheduler answers its health check on 8974 in its own container; here a port
        # free at start, so two stacks on one machine never clash.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(_free_port()),
    }


def worker_env(name: str) -> dict[str, str]:
    return {
        WORKER_NAME_ENV: name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "dev.celery_local.worker_hostname",
        # Each worker serves its tasks' logs on its own port (the UI reads finished logs from disk).
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
    }


def start_worker(children, airflow: str, name: str):
    """`airflow celery worker` as compose runs it: the default queue, its host name set."""
    return children.start(
        name, [airflow, "celery", "worker", "--celery-hostname", celery_host(name)], env=worker_env(name)
    )


def kill_worker(children, name: str) -> list[int]:
    """SIGKILL a worker and every process it started (its task processes included), as a lost
    machine would: nothing gets to clean up. Returns the pids killed."""
    import psutil

    child = next(c for c in children.children if c.name == name and c.alive())
    procs = [psutil.Process(child.proc.pid)]
    try:
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        pass
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)
    child.proc.wait(10)
    children.children.remove(child)
    return [p.pid for p in procs]


def stop_worker(children, name: str, timeout: float = 60) -> None:
    """A warm shutdown (SIGTERM to the worker alone, as compose's DUMB_INIT_SETSID=0 does): it
    takes no new task and finishes the ones it runs."""
    child = next(c for c in children.children if c.name == name and c.alive())
    child.proc.send_signal(signal.SIGTERM)
    try:
        child.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_worker(children, name)
        return
    children.children.remove(child)


def ping(name: str, env: dict[str, str], timeout: float = 60) -> bool:
    """Compose's worker health check: `celery inspect ping` of this worker. The command imports
    Airflow before it asks, which takes far longer than the answer on a busy machine."""
    celery = str(Path(sys.executable).parent / "celery")
    try:
        done = subprocess.run(
            [celery, "--app", CELERY_APP, "inspect", "ping", "-d", celery_host(name)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def wait_until_answering(names, env: dict[str, str], timeout: float = 180, alive=lambda: True) -> bool:
    deadline = time.monotonic() + timeout
    waiting = list(names)
    while waiting and time.monotonic() < deadline and alive():
        waiting = [n for n in waiting if not ping(n, env)]
        if waiting:
            time.sleep(2)
    return not waiting
