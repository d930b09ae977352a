"""The report's large-campaign paths against the real PostgreSQL and S3 of the embedded stack: the
per-contact CSV that PostgreSQL renders with COPY, and the blocked-contact counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import create_campaign
from include.campaigns.db import fetch_one
from include.campaigns.phones import mask
from include.campaigns.report_render import CSV_COLUMNS, render_csv, render_csv_to
from include.campaigns.reporting import build_report, contact_rows, store_report
from include.campaigns.runs import RunContext

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc)

INSERT_CONTACT = """
INSERT INTO contacts (campaign_id, phone, external_ref, status, attempts, last_outcome, last_attempt_at,
                      status_reason, jurisdiction, window_keys)
VALUES (%(campaign_id)s, %(phone)s, %(external_ref)s, %(status)s, %(attempts)s, %(last_outcome)s,
        %(last_attempt_at)s, %(status_reason)s, %(jurisdiction)s, %(window_keys)s)
RETURNING id
"""


def add_contact(db, campaign_id: int, phone: str, **fields) -> int:
    row = {
        "external_ref": None,
        "status": "pending",
        "attempts": 0,
        "last_outcome": None,
        "last_attempt_at": None,
        "status_reason": None,
        "jurisdiction": None,
        "window_keys": None,
        **fields,
    }
    return db.execute(INSERT_CONTACT, {"campaign_id": campaign_id, "phone": phone, **row}).fetchone()[0]


def python_rendered(db, campaign_id: int) -> str:
    """The CSV as the Python renderer writes it from the contacts, phones masked by phones.mask."""
    from psycopg.rows import dict_row

    with db.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id AS contact_id, external_ref, phone, status, attempts, last_outcome, last_attempt_at, "
            "status_reason FROM contacts WHERE campaign_id = %s ORDER BY id",
            (campaign_id,),
        )
        return render_csv({**row, "phone_masked": mask(row.pop("phone"))} for row in cur.fetchall())


def copied(db, campaign_id: int) -> tuple[str, int]:
    buffer = io.StringIO(newline="")
    rows = render_csv_to(buffer, contact_rows(db, campaign_id))
    return buffer.getvalue(), rows


def test_the_copied_csv_reads_exactly_as_the_python_renderer_writes_it(db):
    # Python renders a timestamp in the session's zone; a half-hour offset shows the minutes survive.
    db.execute("SET TIME ZONE 'America/St_Johns'")
    campaign_id = create_campaign(db, "csv_copy")
    other = create_campaign(db, "csv_other")
    at = datetime(2026, 7, 1, 12, 30, 5, 120000, tzinfo=timezone.utc)
    add_contact(
        db,
        campaign_id,
        "+12125550123",
        external_ref="CRM-1",
        status="completed",
        attempts=1,
        last_outcome="answered",
        last_attempt_at=at,
    )
    add_contact(
        db,
        campaign_id,
        "+44 20 7946 0958",
        external_ref='ref, with "quotes"\nand a newline\r\n',
        status="failed",
        attempts=2,
        last_outcome="no_answer",
        last_attempt_at=at.replace(microsecond=0),
    )
    add_contact(
        db,
        campaign_id,
        "12",
        external_ref="",
        status="invalid",
        status_reason="not a valid number: too short; ünïcode ✓ 日本",
        last_outcome="",
    )
    add_contact(db, campaign_id, "", status="invalid", status_reason="")
    add_contact(
        db,
        campaign_id,
        "+1 (305) 555-7788 ext. 12",
        status="pending",
        last_attempt_at=datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone.utc),
    )
    add_contact(db, campaign_id, "5551234", external_ref="\\.", status="pending")
    add_contact(db, other, "+12125550999", external_ref="not this campaign")

    text, rows = copied(db, campaign_id)

    assert rows == 6
    assert text.split("\r\n")[0] == ",".join(CSV_COLUMNS)
    masked = [row["phone_masked"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    assert masked == ["***0123", "***0958", "***", "<none>", "***8812", "***1234"], "only the last 4 digits"
    assert "5550123" not in text and "7946" not in text and "not this campaign" not in text
    expected = python_rendered(db, campaign_id)
    # PostgreSQL quotes a cell that is exactly \. (its end-of-data marker); csv readers read both alike.
    assert text.replace('"\\."', "\\.") == expected


def test_the_csv_of_a_campaign_with_no_contacts_is_its_header(db):
    campaign_id = create_campaign(db, "csv_empty")
    assert copied(db, campaign_id) == (",".join(CSV_COLUMNS) + "\r\n", 0)


def test_a_csv_larger_than_one_upload_part_reaches_s3_whole(db):
    """Over boto3's 8 MB multipart threshold the CSV is streamed from COPY in parts."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    campaign_id = create_campaign(db, "csv_big")
    db.execute(
        """
        INSERT INTO contacts (campaign_id, phone, external_ref, status, attempts, last_outcome, last_attempt_at)
        SELECT %s, '+1212' || lpad(g::text, 7, '0'), 'ref-' || g || '-' || repeat('x', 20), 'completed', 1,
               'answered', %s::timestamptz + make_interval(secs => g)
        FROM generate_series(1, 150000) AS g""",
        (campaign_id, NOW),
    )
    run = RunContext(
        campaign_id=campaign_id,
        run_id="manual__csv_big",
        run_start=NOW - timedelta(hours=1),
        run_end=NOW + timedelta(hours=1),
        live=True,
    )
    report = build_report(db, campaign_id, run, "completed", None)
    store_report(db, report)

    bucket, key = report["files"]["contacts.csv"][len("s3://") :].split("/", 1)
    body = S3Hook(aws_conn_id="campaigns_aws").get_key(key, bucket).get()["Body"].read()
    assert len(body) > 8 * 2**20
    assert body.decode() == python_rendered(db, campaign_id)


# Window keys: open, closed by the campaign's own window, closed by the law.
OPEN_FL, CLOSED_NY, LEGAL_CA = "America/New_York|US-FL", "America/New_York|US-NY", "America/Los_Angeles|US-CA"
REASONS = {CLOSED_NY: "outside_window", LEGAL_CA: "legal_hours"}


def add_tasks(
    db, campaign_id: int, contact_id: int, phone: str, count: int, *, hours_ago: float = 1, status: str = "completed"
) -> None:
    claimed = NOW - timedelta(hours=hours_ago)
    for _ in range(count):
        n = db.execute("SELECT count(*) FROM dial_tasks").fetchone()[0]
        db.execute(
            "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, "
            "not_after, claimed_at) VALUES (%s, %s, %s, %s, 1, 'r', %s, %s, %s)",
            (f"t{n}", campaign_id, contact_id, phone, status, claimed + timedelta(hours=1), claimed),
        )


@pytest.fixture
def blocked_campaign(db):
    """Contacts kept from a call for every reason the report counts, and some that were not kept."""
    campaign_id = create_campaign(db, "blocked")
    other = create_campaign(db, "blocked_other")

    def contact(phone, status="pending", keys=None, jurisdiction=None):
        return add_contact(db, campaign_id, phone, status=status, window_keys=keys, jurisdiction=jurisdiction)

    fl = {"keys": [OPEN_FL], "jurisdiction": "US-FL"}
    capped = contact("+13055550001", **fl)
    add_tasks(db, campaign_id, capped, "+13055550001", 3)
    # The cap counts a phone's dial tasks in every campaign, but not expired ones nor older than 24 h.
    across = contact("+13055550002", **fl)
    add_tasks(db, campaign_id, across, "+13055550002", 2)
    add_tasks(db, other, add_contact(db, other, "+13055550002"), "+13055550002", 1)
    add_tasks(db, campaign_id, across, "+13055550002", 1, status="expired")
    add_tasks(db, campaign_id, across, "+13055550002", 1, hours_ago=30)
    under = contact("+13055550003", **fl)
    add_tasks(db, campaign_id, under, "+13055550003", 2)
    add_tasks(db, campaign_id, under, "+13055550003", 2, status="expired")
    add_tasks(db, campaign_id, under, "+13055550003", 2, hours_ago=25)
    ny = contact("+12125550004", status="failed", keys=[CLOSED_NY], jurisdiction="US-NY")
    add_tasks(db, campaign_id, ny, "+12125550004", 3)
    contact("+12125550005", keys=[CLOSED_NY, LEGAL_CA], jurisdiction="US-NY")  # the law's reason comes first
    contact("+12125550006", keys=[CLOSED_NY], jurisdiction="US-NY")
    contact("+12125550007", status="expired", keys=[CLOSED_NY], jurisdiction="US-NY")
    contact("+12125550008", status="expired")  # never resolved: no window
    contact("+12125550009", status="blacklisted", keys=[CLOSED_NY], jurisdiction="US-NY")
    contact("12", status="invalid")
    done = contact("+13055550010", status="completed", **fl)
    add_tasks(db, campaign_id, done, "+13055550010", 5)
    add_contact(db, other, "+12125550011", window_keys=[CLOSED_NY], jurisdiction="US-NY")
    return campaign_id


def blocked(db, campaign_id: int, *, cap_24h=None, legal_caps=None) -> dict:
    row = fetch_one(
        db,
        "report_blocked",
        {
            "campaign_id": campaign_id,
            "reasons": json.dumps(REASONS),
            "at": NOW,
            "cap_24h": cap_24h,
            "legal_caps": json.dumps(legal_caps or {}),
        },
    )
    return {k: int(v) for k, v in row.items()}


STATES = {"blacklist": 1, "no_consent": 0, "invalid_number": 1, "expired": 2, "outside_window": 3, "legal_hours": 1}


@pytest.mark.parametrize(
    "cap_24h, legal_caps, capped",
    [
        (None, {"US-FL": 3}, 2),  # the two Florida numbers with 3 dial tasks in 24 h
        (2, {"US-FL": 3}, 4),  # the campaign's own cap is lower: 2 tasks are enough, in any state
        (0, {}, 7),  # a zero cap keeps every waiting contact, even those never dialed
        (None, {}, 0),  # no cap at all
    ],
)
def test_blocked_counts_each_reason(db, blocked_campaign, cap_24h, legal_caps, capped):
    assert blocked(db, blocked_campaign, cap_24h=cap_24h, legal_caps=legal_caps) == {**STATES, "cap": capped}


def test_blocked_counts_of_a_campaign_with_no_contacts_are_zero(db):
    campaign_id = create_campaign(db, "blocked_empty")
    assert set(blocked(db, campaign_id, cap_24h=0).values()) == {0}


def _stored(db, slug: str, run_id: str) -> dict:
    campaign_id = (
        create_campaign(db, slug)
        if not db.execute("SELECT 1 FROM campaigns WHERE slug = %s", (slug,)).fetchone()
        else db.execute("SELECT id FROM campaigns WHERE slug = %s", (slug,)).fetchone()[0]
    )
    run = RunContext(
        campaign_id=campaign_id,
        run_id=run_id,
        run_start=NOW - timedelta(hours=1),
        run_end=NOW + timedelta(hours=1),
        live=True,
    )
    report = build_report(db, campaign_id, run, "completed", None)
    store_report(db, report)
    return report


def _s3_object(uri: str) -> dict:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = uri[len("s3://") :].split("/", 1)
    return S3Hook(aws_conn_id="campaigns_aws").get_conn().get_object(Bucket=bucket, Key=key)


def test_every_report_file_is_served_with_its_content_type(db):
    import urllib.request

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    report = _stored(db, "typed_report", "manual__typed")

    assert _s3_object(report["s3_uri"])["ContentType"] == "text/html; charset=utf-8"
    assert _s3_object(report["files"]["report.json"])["ContentType"] == "application/json; charset=utf-8"
    assert _s3_object(report["files"]["contacts.csv"])["ContentType"] == "text/csv; charset=utf-8"
    # What a browser gets from the link: a page to show, not a file to download.
    bucket, key = report["s3_uri"][len("s3://") :].split("/", 1)
    url = S3Hook(aws_conn_id="campaigns_aws").generate_presigned_url(
        "get_object", params={"Bucket": bucket, "Key": key}
    )
    with urllib.request.urlopen(url) as response:
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.read().decode().startswith("<!DOCTYPE html>")


def test_run_ids_that_differ_only_in_punctuation_keep_their_own_report_files(db):
    first = _stored(db, "punctuated", "scheduled__2026-11-28T00:00:00+00:00")
    second = _stored(db, "punctuated", "scheduled__2026-11-28T00_00_00_00_00")

    assert first["s3_uri"] != second["s3_uri"]
    for report in (first, second):
        stored = json.loads(_s3_object(report["files"]["report.json"])["Body"].read())
        assert stored["run_id"] == report["run_id"]
        assert report["s3_uri"].startswith("s3://campaign-reports/reports/punctuated/")
