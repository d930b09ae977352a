"""Airflow plugin: a "Campaign report" link on each run's generate_report task.

The link is resolved in the API server from campaign_reports (the report's S3 URI), so it
appears as soon as the report exists and stays correct for reruns; it is signed on each click.
It attaches to the `generate_report` operator class alone, so no other task shows it (or an
empty "Extra Links" heading).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from include.campaigns.report_operator import CampaignReportOperator

log = logging.getLogger(__name__)

REPORT_TASK_ID = "generate_report"
AWS_CONN_ID = "campaigns_aws"
LINK_LIFETIME_S = 3600
REPORTS_ROOT = "reports"


def console_url(bucket: str, key: str) -> str:
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={quote(key)}"


def refusal(bucket: str, key: str, slug: str) -> str | None:
    """Why a stored location is not this campaign's report, or None when it is. The location is
    data in a table; a signed link opens whatever it names, so only the configured reports bucket
    and the campaign's own folder in it are ever signed."""
    from include.campaigns.resources import report_bucket

    try:
        allowed_bucket = report_bucket()
    except Exception as exc:  # no variable: nothing can be shown to be a report
        return f"the reports bucket is not configured ({type(exc).__name__})"
    if bucket != allowed_bucket:
        return f"bucket {bucket!r} is not the reports bucket"
    parts = key.split("/")
    if len(parts) < 4 or parts[:2] != [REPORTS_ROOT, slug] or any(p in ("", ".", "..") for p in parts):
        return f"key {key!r} is not under {REPORTS_ROOT}/{slug}/"
    return None


def report_url(s3_uri: str | None, *, slug: str) -> str | None:
    """A link a browser can open: a presigned GET (reports sit in a private bucket), or the S3
    console when no link can be signed; None for anything but this campaign's own report."""
    if not s3_uri or not s3_uri.startswith("s3://"):
        return None
    bucket, _, key = s3_uri[len("s3://") :].partition("/")
    reason = refusal(bucket, key, slug)
    if reason:
        log.warning("Campaign report link for %s not signed: %s", slug, reason)
        return None
    try:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=AWS_CONN_ID).generate_presigned_url(
            "get_object", params={"Bucket": bucket, "Key": key}, expires_in=LINK_LIFETIME_S
        )
    except Exception:  # no connection or credentials here: the console still finds the object
        return console_url(bucket, key)


def stored_report_uri(slug: str, run_id: str) -> str | None:
    """The run's report location, from campaign_reports: the API server cannot read task XComs
    through the Task SDK, and the campaign database is the report's own record anyway."""
    from include.campaigns.db import campaign_db, fetch_one

    with campaign_db(statement_timeout_ms=3000) as conn:
        row = fetch_one(conn, "report_location", {"slug": slug, "run_id": run_id})
    return row["s3_uri"] if row else None


class CampaignReportLink(BaseOperatorLink):
    name = "Campaign report"
    operators = [CampaignReportOperator]

    def get_link(self, operator, *, ti_key) -> str:
        from include.campaigns.catalog import slug_for_dag_id

        slug = slug_for_dag_id(ti_key.dag_id)
        if ti_key.task_id != REPORT_TASK_ID or slug is None:
            return ""
        return report_url(stored_report_uri(slug, ti_key.run_id), slug=slug) or ""


class CampaignReportsPlugin(AirflowPlugin):
    name = "campaign_reports"
    operator_extra_links = [CampaignReportLink()]
