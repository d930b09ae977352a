"""The campaign catalog: which DAGs exist, read cheaply and safely at parse time.

The DAG file calls :func:`load_catalog` on every parse, in the dag-processor and on every
worker task start or sensor poke. So it is one short query with tight timeouts; on a worker
it reads only the campaign being run; and when the database is unreachable it falls back to
the last catalog it read, because a file that fails to import (or yields no DAGs) makes
Airflow stop scheduling every campaign in it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

DAG_ID_PREFIX = "campaign_"
CATALOG_FILE_ENV = "CAMPAIGN_CATALOG_FILE"       # GitOps: a JSON catalog replaces the query
SNAPSHOT_ENV = "CAMPAIGN_CATALOG_SNAPSHOT"
CATALOG_STATEMENT_TIMEOUT_MS = 3000
# The campaign DAGs are split over this many DAG files, dags/campaigns_<k>.py holding the campaigns
# whose id mod CATALOG_PARTS is k. Airflow's own work per DAG (about 5 ms) makes one file of 1,000
# campaigns take over 5 s to parse, and one file grows until it hits dagbag_import_timeout (30 s),
# when every campaign's DAG would go stale at once. Parts parse in parallel in the dag-processor
# (parsing_processes) and one part's failure leaves the others scheduled. A campaign's part never
# changes while CATALOG_PARTS stays the same; changing it moves DAGs between files.
CATALOG_PARTS = 4
APPROVED_TAGS = frozenset({
    "campaign", "outbound", "recurring", "one-off", "sales", "collections", "reminders",
    "surveys", "retention", "notifications", "pilot", "maintenance",
})


class CatalogUnavailable(RuntimeError):
    """No database and no snapshot: the only parse that may fail."""


@dataclass(frozen=True)
class CampaignSpec:
    """What a campaign's DAG is built from; everything else is read by the tasks at run time."""

    id: int
    slug: str
    name: str
    schedule: str | None
    timezone: str
    start_at: datetime
    end_at: datetime
    status: str
    owner: str
    tags: tuple[str, ...]
    poke_interval_s: int
    expected_duration_s: int | None = None
    dispatch_shards: int = 1

    @property
    def dag_id(self) -> str:
        return f"{DAG_ID_PREFIX}{self.slug}"

    def to_json(self) -> dict:
        # Field by field rather than dataclasses.asdict, which deep-copies: every parse of every
        # DAG file serializes the whole catalog for the snapshot.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(start_at=self.start_at.isoformat(), end_at=self.end_at.isoformat(), tags=list(self.tags))
        return data

    @classmethod
    def from_row(cls, row: dict) -> "CampaignSpec":
        def instant(value):
            return value if isinstance(value, datetime) else datetime.fromisoformat(value)

        return cls(
            id=int(row["id"]), slug=row["slug"], name=row["name"], schedule=row.get("schedule"),
            timezone=row["timezone"], start_at=instant(row["start_at"]), end_at=instant(row["end_at"]),
            status=row["status"], owner=row["owner"], tags=tuple(row.get("tags") or ()),
            poke_interval_s=int(row["poke_interval_s"]),
            expected_duration_s=row.get("expected_duration_s"),
            dispatch_shards=int(row.get("dispatch_shards") or 1),
        )


def slug_for_dag_id(dag_id: str | None) -> str | None:
    if dag_id and dag_id.startswith(DAG_ID_PREFIX):
        return dag_id[len(DAG_ID_PREFIX):]
    return None


def snapshot_path() -> Path:
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "campaign_catalog_snapshot.json"
    return Path(os.environ.get(SNAPSHOT_ENV, default))


def _query(slug: str | None) -> list[CampaignSpec]:
    from include.campaigns.db import fetch_all, parse_time_db

    with parse_time_db(statement_timeout_ms=CATALOG_STATEMENT_TIMEOUT_MS) as conn:
        return [CampaignSpec.from_row(r) for r in fetch_all(conn, "catalog", {"slug": slug})]


def _write_snapshot(specs: list[CampaignSpec]) -> None:
    """Atomic, and only when the catalog changed: parses run every 30 s on many machines."""
    path = snapshot_path()
    # One campaign per line; json.dumps without indent runs the C encoder (with it, pure Python).
    payload = "[\n" + ",\n".join(json.dumps(s.to_json(), sort_keys=True) for s in specs) + "\n]\n"
    try:
        if path.exists() and path.read_text() == payload:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalog-")
        with os.fdopen(fd, "w") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("Could not write the campaign catalog snapshot %s: %s", path, exc)


def _read_json(path: Path, slug: str | None) -> list[CampaignSpec]:
    specs = [CampaignSpec.from_row(row) for row in json.loads(path.read_text())]
    return [s for s in specs if s.status != "archived" and (slug is None or s.slug == slug)]


def in_part(spec: CampaignSpec, part: int | None) -> bool:
    """Whether the DAG file for ``part`` builds this campaign (every file, when ``part`` is None)."""
    return part is None or spec.id % CATALOG_PARTS == part


def load_catalog(dag_id: str | None = None, part: int | None = None) -> list[CampaignSpec]:
    """The campaigns to build DAGs for, sorted by slug; one campaign when ``dag_id`` names one;
    only those of one DAG file when ``part`` is given (see CATALOG_PARTS)."""
    slug = slug_for_dag_id(dag_id)
    if dag_id and slug is None:
        return []  # a worker running some other file's DAG
    catalog_file = os.environ.get(CATALOG_FILE_ENV)
    if catalog_file:
        specs = sorted(_read_json(Path(catalog_file), slug), key=lambda s: s.slug)
        return [s for s in specs if in_part(s, part)]
    try:
        # Every part reads the whole catalog (one indexed query of a few hundred rows), so that
        # each keeps the one snapshot complete for the outage fallback below.
        specs = _query(slug)
    except Exception as exc:  # any failure to read the catalog takes the same fallback
        path = snapshot_path()
        if not path.exists():
            raise CatalogUnavailable(
                f"Campaign database unreachable ({exc.__class__.__name__}: {exc}) and no catalog snapshot at {path}"
            ) from exc
        log.warning("Campaign database unreachable (%s); building DAGs from the snapshot %s",
                    exc.__class__.__name__, path)
        return [s for s in sorted(_read_json(path, slug), key=lambda s: s.slug) if in_part(s, part)]
    if slug is None:
        _write_snapshot(specs)
    return [s for s in specs if in_part(s, part)]
