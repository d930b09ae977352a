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


def test_report_link_of_a_run_opens_that_runs_report(db):
    import urllib.request
    from types import SimpleNamespace

    from airflow import plugins_manager

    from dev.seed import create_campaign
    from include.campaigns.resources import report_bucket

    [link] = [l for l in plugins_manager.get_global_operator_extra_links() if type(l).__name__ == "CampaignReportLink"]
    campaign_id = create_campaign(db, "linked")
    key = "reports/linked/run_1/report.html"
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    S3Hook(aws_conn_id="campaigns_aws").load_string("<html>run 1</html>", key=key, bucket_name=report_bucket(),
                                                    replace=True)
    db.execute("INSERT INTO campaign_reports (campaign_id, run_id, outcome, report, s3_uri) "
               "VALUES (%s, 'run_1', 'completed', '{}', %s)", (campaign_id, f"s3://{report_bucket()}/{key}"))

    def key_for(task_id, run_id="run_1"):
        return SimpleNamespace(dag_id="campaign_linked", task_id=task_id, run_id=run_id, map_index=-1)

    with urllib.request.urlopen(link.get_link(None, ti_key=key_for("generate_report"))) as response:
        assert response.read() == b"<html>run 1</html>"
    assert link.get_link(None, ti_key=key_for("notify")) == ""
    assert link.get_link(None, ti_key=key_for("generate_report", run_id="no_report_yet")) == ""
