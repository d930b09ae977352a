"""Airflow plugin: a "Campaign report" link on each run's generate_report task.

The link is resolved in the API server from the task's XCom (the report's S3 URI), so it
appears as soon as the report exists and stays correct for reruns.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

REPORT_TASK_ID = "generate_report"
# Where reports can be opened in a browser: the S3 console by default; a deployment with its own
# endpoint (the local stack, a CDN) sets a base URL that takes "<bucket>/<key>".
REPORT_BASE_URL_ENV = "CAMPAIGN_REPORT_BASE_URL"


def report_url(s3_uri: str | None, base_url: str | None = None) -> str | None:
    if not s3_uri or not s3_uri.startswith("s3://"):
        return None
    bucket, _, key = s3_uri[len("s3://"):].partition("/")
    if base_url:
        return f"{base_url.rstrip('/')}/{bucket}/{quote(key)}"
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={quote(key)}"


class CampaignReportLink(BaseOperatorLink):
    name = "Campaign report"

    def get_link(self, operator, *, ti_key) -> str:
        if ti_key.task_id != REPORT_TASK_ID or not ti_key.dag_id.startswith("campaign_"):
            return ""
        summary = XCom.get_value(ti_key=ti_key, key="return_value")
        uri = summary.get("report") if isinstance(summary, dict) else None
        return report_url(uri, os.environ.get(REPORT_BASE_URL_ENV)) or ""


class CampaignReportsPlugin(AirflowPlugin):
    name = "campaign_reports"
    global_operator_extra_links = [CampaignReportLink()]
