"""Airflow's real scheduler on the test stack: api-server, scheduler (LocalExecutor),
dag-processor and triggerer, started the way `make airflow` starts them (dev.airflow_local), with
the production settings the rest of the suite turns down for dag.test(): Deadline Alerts on and the
scheduler's poke-interval floor."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import db, dial_queue, redis_client, sqs, topic_inbox  # noqa: F401 (fixtures)

# The housekeeping DAGs stay as they are; every other campaign DAG in the metadata is an earlier
# test's, whose campaign row is gone.
MAINTENANCE = ("campaign_blacklist_sync", "campaign_answer_model", "campaign_results_ingest")


class RealAirflow:
    def __init__(self, base: str, password: str, children, airflow: str = "airflow", env: dict | None = None):
        self.base, self.password, self.children = base, password, children
        self.airflow, self.env = airflow, env or {}

    def api(self, path: str, *, method: str = "GET", body: dict | None = None):
        from dev.airflow_local import _request, token

        return _request(f"{self.base}/api/v2{path}", method=method, body=body, token=token(self.base, self.password))

    def check_alive(self) -> None:
        dead = self.children.dead()
        if dead:
            pytest.fail(
                "Airflow component(s) stopped: "
                + "; ".join(f"{c.name} (exit {c.proc.returncode}):\n{c.tail()}" for c in dead)
            )


def _pause_earlier_campaign_dags() -> None:
    from sqlalchemy import update

    from airflow.models import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.execute(
            update(DagModel)
            .where(DagModel.dag_id.like("campaign\\_%"), DagModel.dag_id.not_in(MAINTENANCE))
            .values(is_paused=True)
        )


@pytest.fixture
def real_airflow():
    """Returns start(executor="local", env=None): it starts the four Airflow components on the test
    stack, and with executor="celery" the two Celery workers of `make airflow EXECUTOR=celery`;
    env adds settings. They (and every task process they started) are stopped when the test ends.
    Start them once the campaign exists, so the dag-processor's first parse already builds its DAG."""
    # Imported here, not at the top: pytest imports this file before tests/conftest.py has pointed
    # Airflow at the test stack, and Airflow reads its configuration once, on first import.
    from dev import airflow_local
    from include.campaigns.dag_factory import DEADLINE_ALERTS_ENV, DEFAULT_MIN_POKE_S, MIN_POKE_ENV

    started = []

    def start(executor: str = "local", env: dict[str, str] | None = None) -> RealAirflow:
        _pause_earlier_campaign_dags()
        port = airflow_local.free_port()
        password = airflow_local.ensure_password()
        extra, env = env or {}, airflow_local.airflow_env({}, port, executor)
        env[DEADLINE_ALERTS_ENV] = "on"  # the production default
        env[MIN_POKE_ENV] = str(DEFAULT_MIN_POKE_S)  # the production floor (apache/airflow#71172)
        env.update(extra)
        airflow_local.log_dir().mkdir(parents=True, exist_ok=True)
        airflow = str(Path(sys.executable).parent / "airflow")
        children = airflow_local.Children(env)
        started.append(children)
        airflow_local.start_components(children, airflow, port, executor)
        return RealAirflow(f"http://127.0.0.1:{port}", password, children, airflow, env)

    yield start
    for children in started:
        children.stop()


def wait_for(condition, timeout: float, airflow: RealAirflow, what: str, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        airflow.check_alive()
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
