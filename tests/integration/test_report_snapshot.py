"""The report and its per-contact CSV, computed side by side on two connections, read one snapshot:
what changes while they are read is in neither, and the CSV's contacts are the report's."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import create_campaign
from include.campaigns.db import campaign_db
from include.campaigns.report_render import CSV_COLUMNS, render_csv_to
from include.campaigns.reporting import build_report_with_csv, generate
from include.campaigns.runs import RunContext

pytestmark = pytest.mark.integration

CONTACTS = 2_000


@pytest.fixture
def campaign(db):
    campaign_id = create_campaign(db, "snapshot")
    db.execute(
        "INSERT INTO contacts (campaign_id, phone, external_ref) "
        "SELECT %s, '+1212' || lpad(g::text, 7, '0'), 'ref-' || g FROM generate_series(1, %s) AS g",
        (campaign_id, CONTACTS),
    )
    return campaign_id


def _run(campaign_id: int, run_id: str = "manual__snapshot") -> RunContext:
    now = datetime.now(timezone.utc)
    return RunContext(
        campaign_id=campaign_id, run_id=run_id, run_start=now - timedelta(hours=1), run_end=now, live=True
    )


def test_what_changes_while_the_report_is_read_is_in_neither_the_report_nor_its_csv(db, campaign):
    written = io.StringIO(newline="")

    def write_csv(rows):
        # Another session completes half the campaign and adds a contact, committed before the
        # CSV is read: neither reaches this report.
        with campaign_db() as other:
            other.execute(
                "UPDATE contacts SET status = 'completed', attempts = 1 WHERE campaign_id = %s AND id %% 2 = 0",
                (campaign,),
            )
            other.execute("INSERT INTO contacts (campaign_id, phone) VALUES (%s, '+12129999999')", (campaign,))
        render_csv_to(written, rows)

    report = build_report_with_csv(db, campaign, _run(campaign), "completed", None, None, write_csv)

    rows = list(csv.DictReader(io.StringIO(written.getvalue(), newline="")))
    assert len(rows) == CONTACTS and {r["status"] for r in rows} == {"pending"}
    assert report["contacts"] == {"total": CONTACTS, "by_status": {"pending": CONTACTS}}
    assert report["attempts_distribution"] == {"0": CONTACTS}
    # The changes were made, and the next report sees them.
    assert db.execute("SELECT count(*) FROM contacts WHERE campaign_id = %s", (campaign,)).fetchone()[0] == CONTACTS + 1


def test_a_failing_csv_fails_the_report_and_leaves_both_connections_usable(db, campaign):
    def write_csv(rows):
        for _ in rows:
            raise OSError("S3 refused the upload")

    with pytest.raises(OSError, match="S3 refused"):
        build_report_with_csv(db, campaign, _run(campaign), "completed", None, None, write_csv)
    assert db.execute("SELECT count(*) FROM contacts WHERE campaign_id = %s", (campaign,)).fetchone()[0] == CONTACTS


def test_a_report_that_fails_raises_its_own_error_and_leaves_the_connection_usable(db, campaign):
    written: list = []

    with pytest.raises(LookupError, match="does not exist"):
        build_report_with_csv(db, campaign + 1000, _run(campaign + 1000), "completed", None, None, written.append)
    assert db.execute("SELECT count(*) FROM contacts WHERE campaign_id = %s", (campaign,)).fetchone()[0] == CONTACTS


def test_the_generated_report_is_stored_with_its_csv_json_and_page(db, campaign):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    report = generate(db, campaign, _run(campaign), "completed", None)

    def body(uri: str) -> bytes:
        bucket, key = uri[len("s3://") :].split("/", 1)
        return S3Hook(aws_conn_id="campaigns_aws").get_conn().get_object(Bucket=bucket, Key=key)["Body"].read()

    text = body(report["files"]["contacts.csv"]).decode()
    assert text.split("\r\n")[0] == ",".join(CSV_COLUMNS) and text.count("\r\n") == CONTACTS + 1
    assert json.loads(body(report["files"]["report.json"]))["funnel"] == report["funnel"]
    assert body(report["s3_uri"]).decode().startswith("<!DOCTYPE html>")
    stored = db.execute(
        "SELECT s3_uri, report -> 'contacts' ->> 'total' FROM campaign_reports WHERE campaign_id = %s", (campaign,)
    ).fetchone()
    assert stored == (report["s3_uri"], str(CONTACTS))
