"""`make airflow`'s settings that decide what runs and what listens."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_two_local_stacks_put_their_log_servers_on_free_ports_not_the_fixed_defaults():
    from dev.airflow_local import airflow_env

    first, second = airflow_env({}, 8080), airflow_env({}, 8081)
    ports = [
        env[f"AIRFLOW__LOGGING__{key}_LOG_SERVER_PORT"] for env in (first, second) for key in ("WORKER", "TRIGGER")
    ]
    assert len(set(ports)) == 4 and not {"8793", "8794"} & set(ports)


def test_the_housekeeping_dags_are_unpaused_on_creation_and_at_each_local_start():
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    from dev.airflow_local import MAINTENANCE_DAGS

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "maintenance.py"))
    assert not bag.import_errors
    assert sorted(MAINTENANCE_DAGS) == sorted(bag.dag_ids)
    assert all(bag.get_dag(dag_id).is_paused_upon_creation is False for dag_id in bag.dag_ids)
