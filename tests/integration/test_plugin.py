"""The campaign_reports plugin loads in Airflow and links a run to its report."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_airflow_loads_the_report_link_plugin():
    from airflow import plugins_manager

    names = {type(link).__name__ for link in plugins_manager.get_global_operator_extra_links()}
    assert "CampaignReportLink" in names


def test_report_link_is_a_signed_url_a_browser_can_open(db):
    import urllib.request

    from airflow import plugins_manager
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from include.campaigns.resources import report_bucket

    plugins_manager.get_global_operator_extra_links()  # loads plugins/ onto sys.path
    from campaign_reports import report_url

    key = "reports/demo/manual__2026-11-28T10:00:00+00:00/report.html"
    S3Hook(aws_conn_id="campaigns_aws").load_string("<html>ok</html>", key=key, bucket_name=report_bucket(),
                                                    replace=True)
    url = report_url(f"s3://{report_bucket()}/{key}")
    assert "Signature" in url or "X-Amz-Signature" in url
    with urllib.request.urlopen(url) as response:
        assert response.status == 200 and response.read() == b"<html>ok</html>"
    assert report_url(None) is None and report_url("https://elsewhere") is None
