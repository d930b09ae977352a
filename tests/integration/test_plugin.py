"""The campaign_reports plugin loads in Airflow and links a run to its report, and to nothing else."""

from __future__ import annotations

import logging
import urllib.request
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.integration


def _link():
    from airflow import plugins_manager

    [link] = [x for x in plugins_manager.get_operator_extra_links() if type(x).__name__ == "CampaignReportLink"]
    return link


def _put(key: str, body: str) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from include.campaigns.resources import report_bucket

    S3Hook(aws_conn_id="campaigns_aws").load_string(body, key=key, bucket_name=report_bucket(), replace=True)


def _ti_key(task_id: str, run_id: str = "run_1", dag_id: str = "campaign_linked"):
    return SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=-1)


def _add_report(db, campaign_id: int, run_id: str, s3_uri: str) -> None:
    db.execute(
        "INSERT INTO campaign_reports (campaign_id, run_id, outcome, report, s3_uri) "
        "VALUES (%s, %s, 'completed', '{}', %s)",
        (campaign_id, run_id, s3_uri),
    )


def test_airflow_loads_the_report_link_plugin():
    from airflow import plugins_manager

    from include.campaigns.report_operator import CampaignReportOperator

    assert _link().operators == [CampaignReportOperator]
    assert not [
        x for x in plugins_manager.get_global_operator_extra_links() if type(x).__name__ == "CampaignReportLink"
    ], "a global link shows on every task"


def test_only_generate_report_has_the_campaign_report_link(db, monkeypatch):
    """What the API server serves: the DAG as the dag-processor serialized it, with the plugin's links."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    from dev.seed import create_campaign
    from tests.integration.test_exit_paths import DAG_FILE

    # The API server's DagBag loads links (load_op_links=True); the scheduler's, which an earlier
    # dag.test() in this process may have used, turns them off in this class-wide flag.
    monkeypatch.setattr(DagSerialization, "_load_operator_extra_links", True)
    create_campaign(db, "link_shape", config={"dispatch_shards": 2})
    dag = DagBag(dag_folder=str(DAG_FILE)).get_dag("campaign_link_shape")
    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))

    links = {task.task_id: list(task.extra_links) for task in served.tasks}
    assert links == {
        "validate_campaign": [],
        "dispatch_contacts": [],
        "wait_for_completion": [],
        "generate_report": ["Campaign report"],
        "notify": [],
    }
    # Signed in the API server on each click, never frozen into an XCom by the worker.
    assert not dag.get_task("generate_report").operator_extra_links


def test_report_link_is_a_signed_url_a_browser_can_open(db):
    from campaign_reports import report_url  # plugins/ is on sys.path once the plugins are loaded

    from include.campaigns.resources import report_bucket

    key = "reports/demo/manual__2026-11-28T10_00_00_00_00-0123456789abcdef/report.html"
    _put(key, "<html>ok</html>")
    url = report_url(f"s3://{report_bucket()}/{key}", slug="demo")
    assert "Signature" in url or "X-Amz-Signature" in url
    with urllib.request.urlopen(url) as response:
        assert response.status == 200 and response.read() == b"<html>ok</html>"
    assert report_url(None, slug="demo") is None and report_url("https://elsewhere", slug="demo") is None


def test_report_link_of_a_run_opens_that_runs_report(db):
    from dev.seed import create_campaign
    from include.campaigns.resources import report_bucket

    campaign_id = create_campaign(db, "linked")
    key = "reports/linked/run_1/report.html"
    _put(key, "<html>run 1</html>")
    _add_report(db, campaign_id, "run_1", f"s3://{report_bucket()}/{key}")

    with urllib.request.urlopen(_link().get_link(None, ti_key=_ti_key("generate_report"))) as response:
        assert response.read() == b"<html>run 1</html>"
    assert _link().get_link(None, ti_key=_ti_key("notify")) == ""
    assert _link().get_link(None, ti_key=_ti_key("generate_report", run_id="no_report_yet")) == ""


@pytest.mark.parametrize(
    "where",
    [
        "s3://someone-elses-bucket/reports/linked/run_1/report.html",  # another bucket
        "s3://{bucket}/reports/other_campaign/run_1/report.html",  # another campaign's report
        "s3://{bucket}/reports/linked/../other_campaign/run_1/report.html",
        "s3://{bucket}/exports/contacts_full.csv",  # not a report at all
        "s3://{bucket}/reports/linked",
    ],
)
def test_a_report_link_is_signed_only_for_the_campaigns_own_reports(db, caplog, where):
    from dev.seed import create_campaign
    from include.campaigns.resources import report_bucket

    campaign_id = create_campaign(db, "linked")
    _add_report(db, campaign_id, "run_1", where.format(bucket=report_bucket()))

    with caplog.at_level(logging.WARNING, logger="campaign_reports"):
        assert _link().get_link(None, ti_key=_ti_key("generate_report")) == ""
    assert "not signed" in caplog.text
