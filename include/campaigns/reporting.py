"""The run report: computed in SQL, stored in campaign_reports, uploaded to S3 as JSON, CSV and HTML."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from include.campaigns.blackouts import current_blackouts
from include.campaigns.calling_window import legal_rule, split_key
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.claim import legal_caps
from include.campaigns.config import ConfigError, parse_config
from include.campaigns.db import execute, fetch_all, fetch_one, load_sql
from include.campaigns.number_lockouts import claim_params as lockout_params
from include.campaigns.progress import abandonment, status_counts
from include.campaigns.report_render import RenderedCsv
from include.campaigns.resources import AWS_CONN_ID, report_bucket
from include.campaigns.runs import RunContext

log = logging.getLogger(__name__)

NEVER_ELIGIBLE = ("invalid", "blacklisted")  # statuses no run can dial: not in the funnel's eligible step
CSV_CHUNK_BYTES = 256 * 1024  # whole COPY rows per chunk converted and handed on at once
CSV_UPLOAD_PARTS = 2  # multipart parts (8 MB each) held in memory while the CSV uploads
STAGING_FOLDER = "staging"  # holds the CSV, outside the run's folder, until its report is stored


# How each file is served: a browser shows a page only when S3 says it is one.
CONTENT_TYPES = {
    "report.html": "text/html; charset=utf-8",
    "report.json": "application/json; charset=utf-8",
    "contacts.csv": "text/csv; charset=utf-8",
}
READABLE_RUN_CHARS = 100


def report_prefix(slug: str, run_id: str) -> str:
    """The run's folder: its run id made safe to read, plus a hash of the exact run id, so two
    run ids that differ only in punctuation never share (and overwrite) one folder."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)[:READABLE_RUN_CHARS]
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"reports/{slug}/{readable}-{digest}"


def _ratio(numerator, denominator) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _blocked(conn, campaign: Campaign, at: datetime) -> dict[str, int]:
    try:
        config = campaign.config
    except ConfigError:
        config = parse_config({})  # a campaign that failed validation still gets a report
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
    reasons = {k: r for k in keys if (r := config.policy.closed_reason(*split_key(k), at))}
    caps = {j: c for k in keys if (c := legal_rule(j := split_key(k)[1]).max_attempts_24h) is not None}
    row = fetch_one(
        conn,
        "report_blocked",
        {
            "campaign_id": campaign.id,
            "reasons": json.dumps(reasons),
            "at": at,
            "cap_24h": config.max_attempts_per_24h,
            "legal_caps": json.dumps(caps),
        },
    )
    return {k: int(v) for k, v in row.items()}


def skips_params(conn, campaign: Campaign, at: datetime) -> dict:
    """The bind parameters of contacts_skips.sql for ``at``: each closed window key's reason, the
    caps and the lockouts, as the claim would apply them."""
    try:
        config = campaign.config
    except ConfigError:
        config = parse_config({})
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
    blackouts = [b for b in current_blackouts(conn, at) if b.starts_at <= at < b.ends_at]
    reasons = {}
    for key in keys:
        zone, jurisdiction = split_key(key)
        if any(b.covers(jurisdiction) for b in blackouts):
            reasons[key] = "blackout"
        elif reason := config.policy.closed_reason(zone, jurisdiction, at):
            reasons[key] = reason
    # As the claim does: the law of every key any campaign's contacts have binds a shared number.
    everywhere = [r["window_key"] for r in fetch_all(conn, "dial_tasks_claim_window_keys")]
    return {
        "campaign_id": campaign.id,
        "reasons": json.dumps(reasons),
        "at": at,
        "cap_24h": config.max_attempts_per_24h,
        "legal_caps": json.dumps(legal_caps(everywhere)),
        **lockout_params(everywhere, config.lockouts, at),
    }


def skips(conn, campaign: Campaign, at: datetime) -> dict:
    """Who could be dialed at ``at``, and why each of the others cannot, by reason and by
    jurisdiction: the explained skips of a dry run and of the Campaigns page's preview.

    Reasons: blacklist, no_consent, invalid_number, expired, unresolved (not checked yet),
    legal_hours, outside_window, blackout (the first closed key of the contact's), cap (24 h),
    lockout (after abandoned or machine), retry_later (a retry delay). ``eligible`` is every
    contact the claim could take now; a run sends up to its hopper level of them at a time.
    """
    rows = fetch_all(conn, "contacts_skips", skips_params(conn, campaign, at))
    by_reason: dict[str, int] = {}
    by_jurisdiction: dict[str, dict[str, int]] = {}
    eligible: dict[str, int] = {}
    for row in rows:
        if row["reason"] is None:
            eligible[row["jurisdiction"]] = int(row["contacts"])
            continue
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + int(row["contacts"])
        by_jurisdiction.setdefault(row["jurisdiction"], {})[row["reason"]] = int(row["contacts"])
    return {
        "at": at.isoformat(),
        "eligible": sum(eligible.values()),
        "eligible_by_jurisdiction": eligible,
        "skipped": sum(by_reason.values()),
        "skipped_by_reason": dict(sorted(by_reason.items())),
        "skipped_by_jurisdiction": dict(sorted(by_jurisdiction.items())),
    }


def build_report(
    conn, campaign_id: int, run: RunContext, outcome: str, poke: dict | None, dry_run: dict | None = None
) -> dict:
    campaign = load_campaign(conn, campaign_id)
    now = datetime.now(timezone.utc)
    scope = {
        "campaign_id": campaign_id,
        "run_id": run.run_id,
        "by_interval": not run.live,
        "start": run.run_start,
        "end": run.run_end,
    }
    by_status = status_counts(conn, campaign_id)
    contacts = sum(by_status.values())
    calls = fetch_one(conn, "report_calls", scope)
    funnel = {
        "contacts": contacts,
        "eligible": contacts - sum(by_status.get(s, 0) for s in NEVER_ELIGIBLE),
        **calls,
    }
    outcomes = {r["outcome"]: {"calls": r["calls"], "talk_s": int(r["talk_s"])} for r in calls["by_outcome"]}
    hours = {r["hour"]: r for r in calls["by_hour"]}
    report = {
        "campaign": {"id": campaign.id, "slug": campaign.slug, "name": campaign.name},
        "run_id": run.run_id,
        "outcome": outcome,
        "generated_at": now.isoformat(),
        "run": {
            "start": run.run_start.isoformat(),
            "end": run.run_end.isoformat(),
            # A re-report starts after its interval ended: it lasts from its start until now.
            "duration_s": round(
                max(0.0, ((min(now, run.run_end) if run.live else now) - run.run_start).total_seconds()), 1
            ),
            "live": run.live,
            "dry_run": run.dry_run,
            "note": run.not_live_reason,
        },
        "funnel": {k: funnel[k] for k in ("contacts", "eligible", "dispatched", "dialed", "answered", "converted")},
        "blocked": _blocked(conn, campaign, min(now, run.run_end)),
        # The campaign's abandonment rate against the strictest limit where its contacts are.
        "abandonment": abandonment(conn, campaign, now),
        # Rates are per call (ASR = answered calls / calls placed); the funnel counts contacts.
        "rates": {
            "asr": _ratio(funnel["calls_answered"], funnel["calls"]),
            "acd_s": round(funnel["acd_s"], 1) if funnel["acd_s"] is not None else None,
            "conversion_rate": _ratio(funnel["calls_converted"], funnel["calls_answered"]),
            "opt_outs": funnel["opt_outs"],
        },
        "attempts_distribution": {
            str(r["attempts"]): r["contacts"]
            for r in sorted(
                fetch_all(conn, "report_attempts", {"campaign_id": campaign_id}), key=lambda r: r["attempts"]
            )
        },
        "answer_rate_by_local_hour": [
            {
                "hour": h,
                "dialed": hours[h]["dialed"] if h in hours else 0,
                "answered": hours[h]["answered"] if h in hours else 0,
                "rate": _ratio(hours[h]["answered"], hours[h]["dialed"]) if h in hours else None,
            }
            for h in range(24)
        ],
        "calls": {
            "dial_tasks": funnel["dial_tasks"],
            "dialed": funnel["calls"],
            "answered": funnel["calls_answered"],
            "by_outcome": outcomes,
        },
        "contacts": {"total": contacts, "by_status": by_status},
        # Results that did not match their dial task, or were impossible: kept, applied to no one.
        "quarantined_results": {r["reason"]: r["n"] for r in fetch_all(conn, "report_quarantined", scope)},
        "last_poke": poke,
    }
    # The contacts kept from dialing at the report's instant, by jurisdiction and reason.
    explained = skips(conn, campaign, min(now, run.run_end))
    report["blocked_by_jurisdiction"] = explained["skipped_by_jurisdiction"]
    if dry_run is not None:
        report["dry_run"] = {
            "would_dispatch": dry_run.get("would_dispatch", 0),
            "sample": dry_run.get("sample", []),
            **explained,
        }
    return report


class ContactsCsv(RenderedCsv):
    """The per-contact CSV as PostgreSQL's COPY renders it (report_contacts.sql), phones masked there.

    COPY ends each row with a newline; the csv module, whose output this must equal, with CRLF. Each
    row is appended to a buffer as it comes (holding on to COPY's own row buffers instead cost more
    than reading them), and a chunk of whole rows has its line ends converted at once.
    """

    def __init__(self, conn, campaign_id: int):
        self._conn, self._campaign_id = conn, campaign_id
        self.rows = None
        self._chunks: Generator[bytes, None, None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        self._chunks = self._read()
        return self._chunks

    def close(self) -> None:
        """End a COPY whose reader stopped part way (an upload that failed, its traceback still
        holding the stream): until then psycopg holds the connection's lock, and anything else on
        the connection, its commit or rollback included, waits for ever."""
        if self._chunks is not None:
            self._chunks.close()

    def _read(self) -> Generator[bytes, None, None]:
        with self._conn.cursor() as cur:
            with cur.copy(load_sql("report_contacts"), {"campaign_id": self._campaign_id}) as copy:
                buffer = bytearray()
                for line in copy:
                    buffer += line
                    if len(buffer) >= CSV_CHUNK_BYTES:
                        yield crlf_rows(bytes(buffer))
                        buffer.clear()
                if buffer:
                    yield crlf_rows(bytes(buffer))
            self.rows = cur.rowcount


def crlf_rows(rows: bytes) -> bytes:
    """Whole CSV rows ending in LF, as PostgreSQL writes them, ending in CRLF instead.

    A cell holding a newline is quoted, and a quote inside a cell is doubled, so in whole rows the
    text before the first quote, between the second and the third, and so on, is outside every
    cell: its newlines, and only they, end rows.
    """
    parts = rows.split(b'"')
    parts[::2] = [part.replace(b"\n", b"\r\n") for part in parts[::2]]
    return b'"'.join(parts)


def contact_rows(conn, campaign_id: int) -> ContactsCsv:
    """Per-contact outcomes for the CSV, rendered and streamed by PostgreSQL; phones masked."""
    return ContactsCsv(conn, campaign_id)


class _ChunkReader(io.RawIOBase):
    """A read-only, unseekable file over byte chunks, for upload_fileobj."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


class _ReportFiles:
    """Where a run's report files go in S3, and how each one is put there."""

    def __init__(self, slug: str, run_id: str):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=AWS_CONN_ID)
        # An unseekable stream is uploaded a part at a time and boto3 may buffer 10 parts (80 MB):
        # holding fewer keeps the task's memory flat whatever the campaign's size.
        hook.transfer_config.max_in_memory_upload_chunks = CSV_UPLOAD_PARTS
        self._config = hook.transfer_config
        self._client = hook.get_conn()
        self.bucket = report_bucket()
        self.prefix = report_prefix(slug, run_id)

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{name}"

    def put(self, name: str, body, *, key: str | None = None) -> None:
        """Upload one report file, served with its Content-Type, to its place in the run's folder
        (or to ``key``)."""
        self._client.upload_fileobj(
            body,
            self.bucket,
            key or f"{self.prefix}/{name}",
            Config=self._config,
            ExtraArgs={"ContentType": CONTENT_TYPES[name]},
        )

    def put_csv(self, rows: ContactsCsv) -> None:
        """Streamed from COPY straight into a multipart upload (never whole in memory or on disk),
        under a staging key: it is written while the report is computed, and a report that then
        fails must not leave its CSV beside an earlier report of the run."""
        self.put("contacts.csv", io.BufferedReader(_ChunkReader(rows)), key=self._staged("contacts.csv"))

    def publish_csv(self) -> None:
        """The staged CSV copied into place (inside S3, in parts for a large file), then removed."""
        staged = self._staged("contacts.csv")
        self._client.copy(
            {"Bucket": self.bucket, "Key": staged},
            self.bucket,
            f"{self.prefix}/contacts.csv",
            ExtraArgs={"ContentType": CONTENT_TYPES["contacts.csv"], "MetadataDirective": "REPLACE"},
            Config=self._config,
        )
        self._client.delete_object(Bucket=self.bucket, Key=staged)

    def discard_csv(self) -> None:
        """The staged CSV of a report that failed removed, if it was written; a rerun writes it again."""
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._staged("contacts.csv"))
        except Exception:  # the report's own error is the one to raise
            log.warning("Could not remove the staged CSV of a failed report", exc_info=True)

    def _staged(self, name: str) -> str:
        return f"{STAGING_FOLDER}/{self.prefix}/{name}"


def store_report(conn, report: dict, *, upload: bool = True) -> str | None:
    """Upsert the report for its run and upload JSON, CSV and HTML to S3 (replacing a rerun's copy).

    Returns the S3 URI of the HTML page, the one people open; the JSON and CSV sit beside it.
    """
    files = _ReportFiles(report["campaign"]["slug"], report["run_id"]) if upload else None
    if files is not None:
        files.put_csv(contact_rows(conn, report["campaign"]["id"]))
    return _store(conn, report, files)


def _store(conn, report: dict, files: _ReportFiles | None) -> str | None:
    """Put the staged CSV in place, upload the JSON and HTML, and upsert the report."""
    from include.campaigns.report_render import render_html

    s3_uri = None
    if files is not None:
        s3_uri = files.uri("report.html")
        report["s3_uri"] = s3_uri
        report["files"] = {name: files.uri(name) for name in ("report.json", "contacts.csv")}
        files.publish_csv()
        files.put("report.json", io.BytesIO(json.dumps(report, indent=2, default=str).encode()))
        files.put("report.html", io.BytesIO(render_html(report).encode()))
    with conn.transaction():
        execute(
            conn,
            "report_upsert",
            {
                "campaign_id": report["campaign"]["id"],
                "run_id": report["run_id"],
                "outcome": report["outcome"],
                "report": json.dumps(report, default=str),
                "s3_uri": s3_uri,
            },
        )
    return s3_uri


@contextmanager
def _one_snapshot(conn, other) -> Iterator[None]:
    """Both connections in read-only transactions that see one snapshot, for the block's length."""
    from psycopg import ClientCursor

    with conn.transaction():
        execute(conn, "report_snapshot_begin")
        snapshot = fetch_one(conn, "report_snapshot_export")["snapshot"]
        with other.transaction():
            execute(other, "report_snapshot_begin")
            with ClientCursor(other) as cur:
                cur.execute(load_sql("report_snapshot_import"), {"snapshot": snapshot})
            yield


def build_report_with_csv(
    conn,
    campaign_id: int,
    run: RunContext,
    outcome: str,
    poke: dict | None,
    dry_run: dict | None,
    write_csv: Callable[[ContactsCsv], object],
) -> dict:
    """build_report, with ``write_csv`` given the per-contact CSV at the same time.

    The CSV is read on a second connection, in a thread: PostgreSQL renders it on one core while
    the report's statements run on the other, where one after the other they took the sum of both.
    Both connections read one exported snapshot, so the CSV's contacts are exactly the report's.
    """
    from include.campaigns.db import campaign_db

    failure: list[BaseException] = []

    def write(rows: ContactsCsv) -> None:
        try:
            write_csv(rows)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
        finally:
            rows.close()

    with campaign_db() as other, _one_snapshot(conn, other):
        writer = threading.Thread(target=write, args=(contact_rows(other, campaign_id),), name="report-csv")
        writer.start()
        try:
            report = build_report(conn, campaign_id, run, outcome, poke, dry_run)
        except BaseException:
            other.cancel_safe()  # the CSV of a report that failed is not wanted
            writer.join()
            raise
        writer.join()
    if failure:
        raise failure[0]
    return report


def generate(
    conn, campaign_id: int, run: RunContext, outcome: str, poke: dict | None, dry_run: dict | None = None
) -> dict:
    """The run's report built and stored, as store_report(build_report(...)) would, with the CSV
    uploaded while the report is computed (see build_report_with_csv). Returns the report."""
    files = _ReportFiles(load_campaign(conn, campaign_id).slug, run.run_id)
    try:
        report = build_report_with_csv(conn, campaign_id, run, outcome, poke, dry_run, files.put_csv)
    except BaseException:
        files.discard_csv()
        raise
    _store(conn, report, files)
    return report


def headline(report: dict) -> dict:
    """The few figures a notification and the demo print."""
    funnel = report["funnel"]
    return {
        "outcome": report["outcome"],
        **{k: funnel[k] for k in ("contacts", "eligible", "dispatched", "dialed", "answered", "converted")},
        "asr": report["rates"]["asr"],
        "acd_s": report["rates"]["acd_s"],
        "conversion_rate": report["rates"]["conversion_rate"],
        "opt_outs": report["rates"]["opt_outs"],
        "blacklisted": report["blocked"]["blacklist"],
        "invalid": report["blocked"]["invalid_number"],
        "expired": report["blocked"]["expired"],
        **({"would_dispatch": report["dry_run"]["would_dispatch"]} if "dry_run" in report else {}),
        "report": report.get("s3_uri"),
    }
