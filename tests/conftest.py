"""Test session set-up: the embedded stack under .stack/test, and its environment.

Airflow reads its configuration when first imported, so the stack is started and its
environment exported in pytest_configure, before any test module is imported.
`make test-fast` sets CAMPAIGN_TESTS_NO_STACK=1 to run the service-free tests alone.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_started_here = False


def pytest_configure(config):
    global _started_here
    if os.environ.get("CAMPAIGN_TESTS_NO_STACK"):
        return
    os.environ.setdefault("CAMPAIGN_STACK_DIR", str(ROOT / ".stack" / "test"))
    # dag.test() cannot run a DAG with a DeadlineAlert on Airflow 3.3.2; see dag_factory.
    os.environ.setdefault("CAMPAIGN_DEADLINE_ALERTS", "off")
    # dag.test() runs pokes inline, so the scheduler's poke-interval floor only slows the tests.
    os.environ.setdefault("CAMPAIGN_MIN_POKE_INTERVAL_S", "1")
    from dev import stack

    _started_here = not all(s["running"] for s in stack.status().values())
    os.environ.update(stack.start())


def pytest_unconfigure(config):
    if _started_here and not os.environ.get("CAMPAIGN_TESTS_KEEP_STACK"):
        from dev import stack

        # Airflow's own atexit hook would otherwise roll back pooled connections to a stopped server.
        from airflow import settings

        settings.dispose_orm()
        stack.stop()
