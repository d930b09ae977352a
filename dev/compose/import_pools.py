"""Create or update the pools declared in airflow_settings.yaml.

    python -m dev.compose.import_pools

Connections and variables reach docker-compose as AIRFLOW_CONN_* / AIRFLOW_VAR_* settings, but
pools have no environment form, and a task in a missing pool is never scheduled. So airflow-init
runs this after `airflow db migrate` (`astro dev start` does the same from the same file).
"""

from __future__ import annotations

import json
import subprocess
import tempfile

from dev.stack import load_settings


def import_pools(airflow: str = "airflow", env: dict[str, str] | None = None) -> None:
    pools = {
        pool["pool_name"]: {"slots": pool["pool_slot"], "description": pool.get("pool_description", "")}
        for pool in load_settings().get("pools") or []
    }
    if not pools:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json") as spec:
        json.dump(pools, spec)
        spec.flush()
        subprocess.run([airflow, "pools", "import", spec.name], check=True, env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    import_pools()
