"""The integrity tests parse the real DAG file against a seeded campaign catalog."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
SEEDED: dict[str, dict[str, Any]] = {
    "renewals_q4": {"tags": ["reminders"], "schedule": None},
    "daily_survey": {"tags": ["surveys", "not-approved"], "schedule": "0 10 * * 1-5", "tz": "America/Chicago"},
    "winback": {"tags": [], "schedule": None, "status": "paused"},
    "old_archived": {"tags": [], "schedule": None, "status": "archived"},
    "big_list": {"tags": [], "schedule": None, "config": {"dispatch_shards": 3}},
    "bad_shards": {"tags": [], "schedule": None, "config": {"dispatch_shards": "lots", "expected_duration_s": "x"}},
}


@pytest.fixture(scope="package")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    from dev.seed import create_campaign
    from include.campaigns.db import campaign_db
    from tests.integration.conftest import CAMPAIGN_TABLES

    now = datetime.now(timezone.utc)
    with campaign_db() as conn:
        conn.execute("TRUNCATE " + ", ".join(CAMPAIGN_TABLES) + " RESTART IDENTITY CASCADE")
        for slug, spec in SEEDED.items():
            create_campaign(
                conn,
                slug,
                tags=spec["tags"],
                schedule=spec["schedule"],
                tz=spec.get("tz", "UTC"),
                status=spec.get("status", "scheduled"),
                start_at=now - timedelta(days=1),
                end_at=now + timedelta(days=30),
                config=spec.get("config"),
            )
    return DagBag(dag_folder=str(DAGS))
