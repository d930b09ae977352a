"""The run report: computed in SQL, stored in campaign_reports, uploaded to S3 as JSON, CSV and HTML."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from include.campaigns.calling_window import legal_rule, split_key
from include.campaigns.config import ConfigError, parse_config
from include.campaigns.db import execute, fetch_all, fetch_one, load_sql
from include.campaigns.dispatch import load_campaign
from include.campaigns.phones import mask
from include.campaigns.progress import status_counts
from include.campaigns.resources import AWS_CONN_ID, report_bucket
from include.campaigns.runs import RunContext

CSV_FETCH = 10_000  # contacts per round trip while streaming the CSV


def report_prefix(slug: str, run_id: str) -> str:
    safe_run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    return f"reports/{slug}/{safe_run}"


def _ratio(numerator, denominator) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _blocked(conn, campaign: dict, at: datetime) -> dict[str, int]:
    try:
        config = parse_config(campaign["config"])
    except ConfigError:
        config = parse_config({})  # a campaign that failed validation still gets a report
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign["id"]})]
    reasons = {k: r for k in keys if (r := config.policy.closed_reason(*split_key(k), at))}
    caps = {j: c for k in keys if (c := legal_rule(j := split_key(k)[1]).max_attempts_24h) is not None}
    row = fetch_one(conn, "report_blocked", {
        "campaign_id": campaign["id"], "reasons": json.dumps(reasons), "at": at,
        "cap_24h": config.max_attempts_per_24h, "legal_caps": json.dumps(caps),
    })
    return {k: int(v) for k, v in row.items()}


def build_report(conn, campaign_id: int, run: RunContext, outcome: str, poke: dict | None,
                 dry_run: dict | None = None) -> dict:
    campaign = load_campaign(conn, campaign_id)
    now = datetime.now(timezone.utc)
    scope = {"campaign_id": campaign_id, "run_id": run.run_id, "by_interval": not run.live,
             "start": run.run_start, "end": run.run_end}
    funnel = fetch_one(conn, "report_funnel", scope)
    outcomes = {r["outcome"]: {"calls": r["calls"], "talk_s": int(r["talk_s"])}
                for r in fetch_all(conn, "report_outcomes", scope)}
    hours = {r["hour"]: r for r in fetch_all(conn, "report_hours", scope)}
    by_status = status_counts(conn, campaign_id)
    report = {
        "campaign": {"id": campaign["id"], "slug": campaign["slug"], "name": campaign["name"]},
        "run_id": run.run_id,
        "outcome": outcome,
        "generated_at": now.isoformat(),
        "run": {"start": run.run_start.isoformat(), "end": run.run_end.isoformat(),
                "duration_s": round((min(now, run.run_end) - run.run_start).total_seconds(), 1),
                "live": run.live, "dry_run": run.dry_run, "note": run.not_live_reason},
        "funnel": {k: funnel[k] for k in ("contacts", "eligible", "dispatched", "dialed", "answered", "converted")},
        "blocked": _blocked(conn, campaign, min(now, run.run_end)),
        # Rates are per call (ASR = answered calls / calls placed); the funnel counts contacts.
        "rates": {"asr": _ratio(funnel["calls_answered"], funnel["calls"]),
                  "acd_s": round(funnel["acd_s"], 1) if funnel["acd_s"] is not None else None,
                  "conversion_rate": _ratio(funnel["calls_converted"], funnel["calls_answered"]),
                  "opt_outs": funnel["opt_outs"]},
        "attempts_distribution": {str(r["attempts"]): r["contacts"] for r in
                                  sorted(fetch_all(conn, "report_attempts", {"campaign_id": campaign_id}),
                                         key=lambda r: r["attempts"])},
        "answer_rate_by_local_hour": [
            {"hour": h, "dialed": hours[h]["dialed"] if h in hours else 0,
             "answered": hours[h]["answered"] if h in hours else 0,
             "rate": _ratio(hours[h]["answered"], hours[h]["dialed"]) if h in hours else None}
            for h in range(24)],
        "calls": {"dial_tasks": funnel["dial_tasks"], "dialed": funnel["calls"], "answered": funnel["calls_answered"],
                  "by_outcome": outcomes},
        "contacts": {"total": sum(by_status.values()), "by_status": by_status},
        "last_poke": poke,
    }
    if dry_run is not None:
        report["dry_run"] = {"would_dispatch": dry_run.get("would_dispatch", 0), "sample": dry_run.get("sample", [])}
    return report


def contact_rows(conn, campaign_id: int):
    """Per-contact outcomes for the CSV, streamed with a server-side cursor; phones masked."""
    from psycopg.rows import dict_row

    with conn.transaction():
        with conn.cursor(name="report_contacts", row_factory=dict_row) as cur:
            cur.itersize = CSV_FETCH
            cur.execute(load_sql("report_contacts"), {"campaign_id": campaign_id})
            for row in cur:
                phone = row.pop("phone")
                yield {**row, "phone_masked": mask(phone)}


def store_report(conn, report: dict, *, upload: bool = True) -> str | None:
    """Upsert the report for its run and upload JSON, CSV and HTML to S3 (replacing a rerun's copy).

    Returns the S3 URI of the HTML page, the one people open; the JSON and CSV sit beside it.
    """
    import tempfile

    from include.campaigns.report_render import render_csv_to, render_html

    s3_uri = None
    if upload:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=AWS_CONN_ID)
        bucket = report_bucket()
        prefix = report_prefix(report["campaign"]["slug"], report["run_id"])
        s3_uri = f"s3://{bucket}/{prefix}/report.html"
        report["s3_uri"] = s3_uri
        report["files"] = {name: f"s3://{bucket}/{prefix}/{name}" for name in ("report.json", "contacts.csv")}
        with tempfile.NamedTemporaryFile("w+", suffix=".csv", newline="") as handle:
            render_csv_to(handle, contact_rows(conn, report["campaign"]["id"]))
            handle.flush()
            hook.load_file(handle.name, key=f"{prefix}/contacts.csv", bucket_name=bucket, replace=True)
        hook.load_string(json.dumps(report, indent=2, default=str), key=f"{prefix}/report.json",
                         bucket_name=bucket, replace=True)
        hook.load_string(render_html(report), key=f"{prefix}/report.html", bucket_name=bucket, replace=True)
    with conn.transaction():
        execute(conn, "report_upsert", {
            "campaign_id": report["campaign"]["id"], "run_id": report["run_id"], "outcome": report["outcome"],
            "report": json.dumps(report, default=str), "s3_uri": s3_uri,
        })
    return s3_uri


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
