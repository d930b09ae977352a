"""What a test session starts: `make test-fast` (the unit tests) needs no service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _fresh_env(stack_dir: Path) -> dict[str, str]:
    """A shell's environment, without what this session exported for its own stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "_AIRFLOW", "CAMPAIGN_", "PYTEST_"))}
    env.update(CAMPAIGN_STACK_DIR=str(stack_dir), PYTHONPATH=str(ROOT))
    return env


def test_the_unit_tests_run_without_starting_any_service(tmp_path):
    stack_dir = tmp_path / "stack"
    # A unit test that builds campaign DAGs with Airflow, and one that does not touch Airflow.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/unit/test_dag_builder.py", "tests/unit/test_report_keys.py"],
        cwd=ROOT,
        env=_fresh_env(stack_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout
    # Starting the stack creates its directory before anything else (PostgreSQL's data, Redis, moto).
    assert not stack_dir.exists(), sorted(p.name for p in stack_dir.iterdir())
