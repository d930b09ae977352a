"""The campaign_reports plugin loads in Airflow and links a run to its report."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_airflow_loads_the_report_link_plugin():
    from airflow import plugins_manager

    names = {type(link).__name__ for link in plugins_manager.get_global_operator_extra_links()}
    assert "CampaignReportLink" in names


def test_report_link_points_at_the_object_on_the_configured_endpoint():
    from airflow import plugins_manager

    plugins_manager.get_global_operator_extra_links()  # loads plugins/ onto sys.path
    from campaign_reports import report_url

    uri = "s3://campaign-reports/reports/demo/manual__2026-11-28T10:00:00+00:00/report.json"
    assert report_url(uri, "http://127.0.0.1:5000/") == (
        "http://127.0.0.1:5000/campaign-reports/reports/demo/manual__2026-11-28T10%3A00%3A00%2B00%3A00/report.json")
    assert report_url(uri).startswith("https://s3.console.aws.amazon.com/s3/object/campaign-reports?prefix=reports/")
    assert report_url(None) is None and report_url("https://elsewhere") is None
