"""The campaign catalog: which DAGs exist, read cheaply and safely at parse time.

The DAG file calls :func:`load_catalog` on every parse, in the dag-processor and on every
worker task start or sensor poke. So it is one short query with tight timeouts; on a worker
it reads only the campaign being run; and when the database is unreachable it falls back to
the last catalog it read, because a file that fails to import (or yields no DAGs) makes
Airflow stop scheduling every campaign in it.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

DAG_ID_PREFIX = "campaign_"
CATALOG_FILE_ENV = "CAMPAIGN_CATALOG_FILE"  # GitOps: a JSON catalog replaces the query
SNAPSHOT_ENV = "CAMPAIGN_CATALOG_SNAPSHOT"
CATALOG_STATEMENT_TIMEOUT_MS = 3000
CATALOG_ERROR_MAX = 2000
SLUG = re.compile(r"[a-z0-9][a-z0-9_]{0,62}")
# The campaign DAGs are split over this many DAG files, dags/campaigns_<k>.py holding the campaigns
# whose id mod CATALOG_PARTS is k. Airflow's own work per DAG makes one file of 1,000 campaigns
# slow to parse (benchmarks/README.md), and one file grows until it hits dagbag_import_timeout (30 s),
# when every campaign's DAG would go stale at once. Parts parse in parallel in the dag-processor
# (parsing_processes) and one part's failure leaves the others scheduled. A campaign's part never
# changes while CATALOG_PARTS stays the same; changing it moves DAGs between files.
CATALOG_PARTS = 4
APPROVED_TAGS = frozenset(
    {
        "campaign",
        "outbound",
        "recurring",
        "one-off",
        "sales",
        "collections",
        "reminders",
        "surveys",
        "retention",
        "notifications",
        "pilot",
        "maintenance",
    }
)


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
    def from_row(cls, row: dict) -> CampaignSpec:
        def instant(value):
            return value if isinstance(value, datetime) else datetime.fromisoformat(value)

        return cls(
            id=int(row["id"]),
            slug=row["slug"],
            name=row["name"],
            schedule=row.get("schedule"),
            timezone=row["timezone"],
            start_at=instant(row["start_at"]),
            end_at=instant(row["end_at"]),
            status=row["status"],
            owner=row["owner"],
            tags=tuple(row.get("tags") or ()),
            poke_interval_s=int(row["poke_interval_s"]),
            expected_duration_s=row.get("expected_duration_s"),
            dispatch_shards=int(row.get("dispatch_shards") or 1),
        )


def slug_for_dag_id(dag_id: str | None) -> str | None:
    if dag_id and dag_id.startswith(DAG_ID_PREFIX):
        return dag_id[len(DAG_ID_PREFIX) :]
    return None


def snapshot_path() -> Path:
    default = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "campaign_catalog_snapshot.json"
    return Path(os.environ.get(SNAPSHOT_ENV, default))


class Refused(ValueError):
    """A catalog entry that cannot become a DAG; the message is the reason shown to operators."""

    def __init__(self, label: str, campaign_id: int | None, reason: str):
        super().__init__(reason)
        self.label, self.campaign_id, self.reason = label, campaign_id, reason


def spec_from_row(row: dict) -> CampaignSpec:
    """One catalog row as a spec, or Refused naming every rule it breaks (see rules.row_problems)."""
    from include.campaigns.campaign_row import instant, row_problems

    label = str(row.get("slug") or row.get("id") or "?")[:80] if isinstance(row, dict) else "?"
    if not isinstance(row, dict):
        raise Refused(label, None, f"entry is a {type(row).__name__}, not an object")
    try:
        campaign_id = int(row["id"])
    except (KeyError, TypeError, ValueError):
        raise Refused(label, None, f"id {row.get('id')!r} is not an integer") from None
    problems = row_problems(row)
    slug = row.get("slug")
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        problems.insert(0, f"slug {str(slug)[:80]!r} is not 1-63 lowercase letters, digits or _")
    if problems:
        raise Refused(label, campaign_id, "; ".join(problems))
    try:
        return CampaignSpec.from_row({**row, "start_at": instant(row["start_at"]), "end_at": instant(row["end_at"])})
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(label, campaign_id, f"{exc.__class__.__name__}: {exc}") from None


def _decode(rows: list, source: str) -> tuple[list[CampaignSpec], list[Refused]]:
    """Every entry on its own: one that breaks a rule is refused and the rest still build."""
    specs, refused = [], []
    for row in rows:
        try:
            specs.append(spec_from_row(row))
        except Refused as exc:
            refused.append(exc)
        except Exception as exc:  # anything else about one entry is still only that entry's problem
            refused.append(Refused("?", None, f"{exc.__class__.__name__}: {exc}"))
    return specs, refused


def _in_part_row(row, part: int | None) -> bool:
    """Whether ``part``'s DAG file checks and builds this entry: a file checks only its own
    campaigns' rows, each one in the one file that builds it."""
    if part is None:
        return True
    try:
        return int(row["id"]) % CATALOG_PARTS == part
    except Exception:  # an entry without a usable id is checked (and refused) by every file
        return True


def _shape_only(rows: list) -> list[CampaignSpec]:
    """Entries another DAG file builds, for the snapshot only: shaped as specs, their rules not
    checked here (their own file checks them, and a read of the snapshot checks them all)."""
    from include.campaigns.campaign_row import instant

    specs = []
    for row in rows:
        try:
            specs.append(
                CampaignSpec.from_row({**row, "start_at": instant(row["start_at"]), "end_at": instant(row["end_at"])})
            )
        except Exception:  # not even a spec's shape: left out of every file's snapshot alike
            continue
    return specs


def _query(slug: str | None, part: int | None = None) -> tuple[Catalog, list]:
    """The campaigns of ``part`` (all when None), the rows refused, and each row's stored
    catalog_error; and the raw rows, for the snapshot."""
    from include.campaigns.db import fetch_all, parse_time_db

    # A worker's parse (one campaign) leaves its connection to the task it parses for.
    with parse_time_db(statement_timeout_ms=CATALOG_STATEMENT_TIMEOUT_MS, hand_over=slug is not None) as conn:
        rows = fetch_all(conn, "catalog", {"slug": slug})
    specs, refused = _decode([r for r in rows if _in_part_row(r, part)], "database")
    return Catalog(specs, refused, stored_errors={r["id"]: r["catalog_error"] for r in rows}, from_database=True), rows


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


def _json_rows(path: Path) -> list:
    rows = json.loads(path.read_text())
    if not isinstance(rows, list):
        raise ValueError(f"{path} holds a {type(rows).__name__}, not a list of campaigns")
    return rows


def _read_json(path: Path, part: int | None = None) -> tuple[list[CampaignSpec], list[Refused]]:
    return _decode([r for r in _json_rows(path) if _in_part_row(r, part)], str(path))


def _select(specs: list[CampaignSpec], slug: str | None, part: int | None) -> list[CampaignSpec]:
    chosen = [s for s in specs if s.status != "archived" and (slug is None or s.slug == slug) and in_part(s, part)]
    return sorted(chosen, key=lambda s: s.slug)


def in_part(spec: CampaignSpec, part: int | None) -> bool:
    """Whether the DAG file for ``part`` builds this campaign (every file, when ``part`` is None)."""
    return part is None or spec.id % CATALOG_PARTS == part


class Catalog:
    """What one parse read: the campaigns to build, the entries refused, and where it came from."""

    def __init__(self, specs, refused, *, stored_errors=None, from_database=False):
        self.specs: list[CampaignSpec] = specs
        self.refused: list[Refused] = refused
        self.stored_errors: dict[int, str | None] = stored_errors or {}
        self.from_database = from_database


def read_catalog(slug: str | None = None, part: int | None = None) -> Catalog:
    """The catalog from the GitOps file or the database, else the last snapshot; the entries of
    ``part``'s DAG file checked (every entry when None).

    Any failure to read the source as a whole (database unreachable, file missing or not JSON)
    takes the snapshot; a bad entry is only that entry's problem (see :func:`_decode`).
    """
    catalog_file = os.environ.get(CATALOG_FILE_ENV)
    try:
        if catalog_file:
            rows = _json_rows(Path(catalog_file))
            catalog = Catalog(*_decode([r for r in rows if _in_part_row(r, part)], catalog_file))
        else:
            # Every part reads the whole catalog (one indexed query of a few hundred rows), so that
            # each keeps the one snapshot complete for the outage fallback below.
            catalog, rows = _query(slug, part)
    except Exception as exc:  # any failure to read the catalog takes the same fallback
        path = snapshot_path()
        what = f"catalog file {catalog_file}" if catalog_file else "Campaign database"
        if not path.exists():
            raise CatalogUnavailable(
                f"{what} unreadable ({exc.__class__.__name__}: {exc}) and no catalog snapshot at {path}"
            ) from exc
        log.warning("%s unreadable (%s); building DAGs from the snapshot %s", what, exc.__class__.__name__, path)
        specs, _ = _read_json(path, part)
        return Catalog(specs, [])
    if slug is None:
        # Every file writes the same snapshot: its own campaigns as checked and the others as
        # shaped, all unchecked alike, since reading the snapshot checks every entry again.
        _write_snapshot(sorted(_shape_only(rows), key=lambda s: s.slug))
    return catalog


def load_catalog(dag_id: str | None = None, part: int | None = None) -> list[CampaignSpec]:
    """The campaigns to build DAGs for, sorted by slug; one campaign when ``dag_id`` names one;
    only those of one DAG file when ``part`` is given (see CATALOG_PARTS). Entries that break a
    rule are left out (see :func:`build_dags`, which also reports them)."""
    slug = slug_for_dag_id(dag_id)
    if dag_id and slug is None:
        return []  # a worker running some other file's DAG
    return _select(read_catalog(slug, part).specs, slug, part)


def build_dags(dag_id: str | None = None, part: int | None = None) -> dict:
    """The DAGs of one DAG file, by dag_id. A campaign whose row breaks a rule, or whose DAG cannot
    be built or serialized, is left out: logged with its reason and, from the dag-processor's
    parse, stored on its row (``catalog_error``), where the Campaigns page shows it."""
    slug = slug_for_dag_id(dag_id)
    if dag_id and slug is None:
        return {}
    catalog = read_catalog(slug, part)
    with _collector_spared():
        return _build(catalog, slug, part)


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Everything alive when the DAGs start to be built (Airflow, the providers, the catalog)
    outlives the parse, yet a full collection while they are built walks all of it: frozen, it
    walks only what the DAGs add. Unfrozen after, unless the process came frozen (an executor
    that froze before forking it keeps its objects unwalked to share their memory pages)."""
    already = gc.get_freeze_count() > 0
    if not already:
        gc.freeze()
    try:
        yield
    finally:
        if not already:
            gc.unfreeze()


def _build(catalog: Catalog, slug: str | None, part: int | None) -> dict:
    from include.campaigns.dag_factory import build_campaign_dag

    refused = [
        r
        for r in catalog.refused
        if (r.campaign_id is None or part is None or r.campaign_id % CATALOG_PARTS == part)
        and (slug is None or r.label == slug)
    ]
    dags = {}
    for spec in _select(catalog.specs, slug, part):
        try:
            dag = build_campaign_dag(spec)
            if slug is None:
                _check_serializable(dag)
        except Exception as exc:  # one campaign's DAG failing to build must not take the file down
            refused.append(Refused(spec.slug, spec.id, f"DAG could not be built: {exc.__class__.__name__}: {exc}"))
            continue
        dags[spec.dag_id] = dag
    for r in refused:
        log.error("Campaign %s (id %s) has no DAG: %s", r.label, r.campaign_id, r.reason)
    if catalog.from_database and slug is None:
        errors = {r.campaign_id: r.reason for r in refused if r.campaign_id is not None}
        mine = [cid for cid in catalog.stored_errors if part is None or cid % CATALOG_PARTS == part]
        _record_errors({cid: errors.get(cid) for cid in mine}, catalog.stored_errors)
    return dags


# The timetables (as Airflow encodes them) whose round trip has succeeded in this process. The round
# trip is a pure function of that encoding, and campaigns share a few schedules and zones; decoding
# one builds Airflow's cron description, the largest per-campaign cost of a parse that is ours.
_DECODED_TIMETABLES: set[str] = set()


def _check_serializable(dag) -> None:
    """The parts of Airflow's serialization that depend on the campaign's data: the DAG's own
    fields, its timetable's round trip (an unknown zone fails there) and its deadline alert.
    The dag-processor serializes every DAG of the file after the parse, and one failure there
    flags every DAG of the file; a full serialization here would double its cost, the task
    fields it adds are the same for every campaign."""
    from airflow.sdk.bases.timetable import BaseTimetable
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_deadline_alert, encode_timetable
    from airflow.serialization.serialized_objects import DagSerialization

    DagSerialization.serialize_to_json(dag, DagSerialization._decorated_fields)
    if isinstance(dag.timetable, BaseTimetable):  # what coerce_to_core_timetable round-trips
        encoded = encode_timetable(dag.timetable)
        key = json.dumps(encoded, sort_keys=True, default=str)
        if key not in _DECODED_TIMETABLES:
            decode_timetable(encoded)
            _DECODED_TIMETABLES.add(key)
    alerts = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline] if dag.deadline else []
    for alert in alerts:
        encode_deadline_alert(alert)


def _record_errors(errors: dict[int, str | None], stored: dict[int, str | None]) -> None:
    """Store each campaign's refusal (or clear it) when it changed; never fails the parse."""
    from include.campaigns.campaign_row import bounded
    from include.campaigns.db import execute, parse_time_db

    changed = {
        cid: bounded(err, CATALOG_ERROR_MAX)
        for cid, err in errors.items()
        if bounded(err, CATALOG_ERROR_MAX) != stored.get(cid)
    }
    if not changed:
        return
    try:
        with parse_time_db(statement_timeout_ms=CATALOG_STATEMENT_TIMEOUT_MS) as conn:
            execute(conn, "campaign_set_catalog_error", {"ids": list(changed), "errors": list(changed.values())})
    except Exception as exc:  # the log line above already names each refused campaign
        log.warning(
            "Could not store catalog errors on %d campaign(s): %s: %s", len(changed), exc.__class__.__name__, exc
        )
