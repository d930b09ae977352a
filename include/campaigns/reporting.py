"""The run report: computed in SQL, stored in campaign_reports, uploaded to S3."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from include.campaigns.db import execute, fetch_all
from include.campaigns.dispatch import load_campaign
from include.campaigns.progress import status_counts
from include.campaigns.resources import AWS_CONN_ID, report_bucket
from include.campaigns.runs import RunContext

ANSWERED = ("answered", "converted")


def report_prefix(slug: str, run_id: str) -> str:
    safe_run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    return f"reports/{slug}/{safe_run}"


def build_report(conn, campaign_id: int, run: RunContext, outcome: str, poke: dict | None) -> dict:
    campaign = load_campaign(conn, campaign_id)
    by_status = status_counts(conn, campaign_id)
    run_tasks = {r["result"]: r["n"] for r in fetch_all(conn, "report_run_tasks",
                                                        {"campaign_id": campaign_id, "run_id": run.run_id})}
    calls = {r["outcome"]: {"calls": r["n"], "talk_s": int(r["talk_s"])}
             for r in fetch_all(conn, "report_call_outcomes", {"campaign_id": campaign_id})}
    dialed = sum(c["calls"] for c in calls.values())
    answered = sum(calls.get(o, {}).get("calls", 0) for o in ANSWERED)
    return {
        "campaign": {"id": campaign["id"], "slug": campaign["slug"], "name": campaign["name"]},
        "run_id": run.run_id,
        "outcome": outcome,
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "run": {"start": run.run_start.isoformat(), "end": run.run_end.isoformat(), "live": run.live,
                "dry_run": run.dry_run, "note": run.not_live_reason},
        "contacts": {"total": sum(by_status.values()), "by_status": by_status},
        "dial_tasks_this_run": {"total": sum(run_tasks.values()), "by_result": run_tasks},
        "calls": {"dialed": dialed, "answered": answered,
                  "asr": round(answered / dialed, 4) if dialed else None, "by_outcome": calls},
        "last_poke": poke,
    }


def store_report(conn, report: dict, *, upload: bool = True) -> str | None:
    """Upsert the report for its run, upload it to S3 (replacing a rerun's copy); return the S3 URI."""
    s3_uri = None
    if upload:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        bucket = report_bucket()
        key = f"{report_prefix(report['campaign']['slug'], report['run_id'])}/report.json"
        S3Hook(aws_conn_id=AWS_CONN_ID).load_string(
            json.dumps(report, indent=2, default=str), key=key, bucket_name=bucket, replace=True)
        s3_uri = f"s3://{bucket}/{key}"
    report["s3_uri"] = s3_uri
    with conn.transaction():
        execute(conn, "report_upsert", {
            "campaign_id": report["campaign"]["id"], "run_id": report["run_id"], "outcome": report["outcome"],
            "report": json.dumps(report, default=str), "s3_uri": s3_uri,
        })
    return s3_uri


def headline(report: dict) -> dict:
    """The few figures a notification and the demo print."""
    statuses = report["contacts"]["by_status"]
    return {
        "outcome": report["outcome"],
        "contacts": report["contacts"]["total"],
        "dial_tasks_this_run": report["dial_tasks_this_run"]["total"],
        "dialed": report["calls"]["dialed"],
        "answered": report["calls"]["answered"],
        "asr": report["calls"]["asr"],
        "completed": statuses.get("completed", 0),
        "opted_out": statuses.get("opted_out", 0),
        "blacklisted": statuses.get("blacklisted", 0),
        "invalid": statuses.get("invalid", 0),
        "expired": statuses.get("expired", 0),
        "report": report.get("s3_uri"),
    }
