"""Airflow plugin: a "Campaign report" link on each run's generate_report task.

The link is resolved in the API server from campaign_reports (the report's S3 URI), so it
appears as soon as the report exists and stays correct for reruns; it is signed on each click.
"""

from __future__ import annotations

from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

REPORT_TASK_ID = "generate_report"
AWS_CONN_ID = "campaigns_aws"
LINK_LIFETIME_S = 3600


def console_url(bucket: str, key: str) -> str:
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={quote(key)}"


def report_url(s3_uri: str | None) -> str | None:
    """A link a browser can open: a presigned GET (reports sit in a private bucket), or the S3
    console when no link can be signed."""
    if not s3_uri or not s3_uri.startswith("s3://"):
        return None
    bucket, _, key = s3_uri[len("s3://"):].partition("/")
    try:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=AWS_CONN_ID).generate_presigned_url(
            "get_object", params={"Bucket": bucket, "Key": key}, expires_in=LINK_LIFETIME_S)
    except Exception:  # no connection or credentials here: the console still finds the object
        return console_url(bucket, key)


def stored_report_uri(dag_id: str, run_id: str) -> str | None:
    """The run's report location, from campaign_reports: the API server cannot read task XComs
    through the Task SDK, and the campaign database is the report's own record anyway."""
    from include.campaigns.catalog import slug_for_dag_id
    from include.campaigns.db import campaign_db, fetch_one

    slug = slug_for_dag_id(dag_id)
    if slug is None:
        return None
    with campaign_db(statement_timeout_ms=3000) as conn:
        row = fetch_one(conn, "report_location", {"slug": slug, "run_id": run_id})
    return row["s3_uri"] if row else None


class CampaignReportLink(BaseOperatorLink):
    name = "Campaign report"

    def get_link(self, operator, *, ti_key) -> str:
        if ti_key.task_id != REPORT_TASK_ID or not ti_key.dag_id.startswith("campaign_"):
            return ""
        return report_url(stored_report_uri(ti_key.dag_id, ti_key.run_id)) or ""


class CampaignReportsPlugin(AirflowPlugin):
    name = "campaign_reports"
    global_operator_extra_links = [CampaignReportLink()]
