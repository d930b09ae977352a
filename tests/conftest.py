"""Test session set-up: the embedded stack under .stack/test, and its environment.

Airflow reads its configuration when first imported, so the stack is started and its
environment exported in pytest_configure, before any test module is imported. A session that
runs only service-free tests (tests/unit: `make test-fast`) starts nothing; CAMPAIGN_TESTS_NO_STACK=1
says the same for any session.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Tests that use no service: no database, no Redis, no AWS.
SERVICE_FREE = (ROOT / "tests" / "unit",)
_started_here = False


def _needs_stack(config) -> bool:
    if os.environ.get("CAMPAIGN_TESTS_NO_STACK"):
        return False
    if not config.args:
        return True
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if not any(path == free or path.is_relative_to(free) for free in SERVICE_FREE):
            return True
    return False


def pytest_configure(config):
    global _started_here
    # dag.test() cannot run a DAG with a DeadlineAlert on Airflow 3.3.2; see dag_factory.
    os.environ.setdefault("CAMPAIGN_DEADLINE_ALERTS", "off")
    # dag.test() runs pokes inline, so the scheduler's poke-interval floor only slows the tests.
    os.environ.setdefault("CAMPAIGN_MIN_POKE_INTERVAL_S", "1")
    if not _needs_stack(config):
        # Airflow still reads a configuration; this session's own, not the user's ~/airflow.
        os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".stack" / "unit" / "airflow"))
        return
    os.environ.setdefault("CAMPAIGN_STACK_DIR", str(ROOT / ".stack" / "test"))
    from dev import stack

    _started_here = not all(s["running"] for s in stack.status().values())
    os.environ.update(stack.start())


def pytest_unconfigure(config):
    if _started_here and not os.environ.get("CAMPAIGN_TESTS_KEEP_STACK"):
        # Airflow's own atexit hook would otherwise roll back pooled connections to a stopped server.
        from airflow import settings

        from dev import stack

        settings.dispose_orm()
        stack.stop()
