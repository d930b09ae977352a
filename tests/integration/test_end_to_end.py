"""A campaign DAG run end to end with dag.test(), the embedded stack and the dialer simulator."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from dev.seed import add_blacklist, add_contacts, create_campaign
from tests.helpers import open_zone, us_numbers
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration
DAGS = Path(__file__).resolve().parents[2] / "dags"


def campaign_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def test_campaign_run_dials_each_eligible_contact_once_and_reports(
    db, redis_client, dial_queue, topic_inbox, dialer, sqs
):
    zone = open_zone()
    phones = us_numbers(26, seed=11)
    eligible, pg_blocked, redis_blocked = phones[:20], phones[20:23], phones[23:26]
    invalid = ["+1555", "1212555012"]
    campaign_id = create_campaign(
        db,
        "e2e_basic",
        poke_interval_s=1,
        max_in_flight=8,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "max_attempts": 1,
            "calling_window": {"start": "08:00", "end": "21:00"},
        },
    )
    add_contacts(db, campaign_id, [{"phone": p, "timezone": zone} for p in phones + invalid])
    add_blacklist(db, pg_blocked)
    redis_client.sadd("campaigns:blacklist", *redis_blocked)
    simulator = dialer(dial_queue, {"answered": 1.0})

    run = campaign_dag("campaign_e2e_basic").test()

    assert run.state == "success"
    by_contact = defaultdict(set)
    message_ids = defaultdict(set)
    for task in simulator.received:
        by_contact[task["phone"]].add(task["dial_attempt_id"])
        message_ids[task["phone"]].add(task["message_id"])
    assert set(by_contact) == set(eligible)
    assert all(len(ids) == 1 for ids in by_contact.values()), by_contact
    assert all(len(ids) == 1 for ids in message_ids.values()), "a contact was sent twice"
    assert not set(by_contact) & set(pg_blocked + redis_blocked + invalid)

    statuses = dict(db.execute("SELECT phone, status FROM contacts WHERE campaign_id = %s", (campaign_id,)).fetchall())
    assert {statuses[p] for p in eligible} == {"completed"}
    assert {statuses[p] for p in pg_blocked + redis_blocked} == {"blacklisted"}
    assert {statuses[p] for p in invalid} == {"invalid"}
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0] == "completed"

    outcome, s3_uri, report = db.execute(
        "SELECT outcome, s3_uri, report FROM campaign_reports WHERE campaign_id = %s AND run_id = %s",
        (campaign_id, run.run_id),
    ).fetchone()
    assert outcome == "completed"
    assert report["funnel"]["dispatched"] == len(eligible)
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    def read(uri):
        bucket, key = uri[len("s3://") :].split("/", 1)
        return S3Hook(aws_conn_id="campaigns_aws").read_key(key, bucket)

    stored = json.loads(read(report["files"]["report.json"]))
    assert stored["funnel"]["answered"] == len(eligible) and stored["outcome"] == "completed"
    # The HTML page shows the very figures the JSON holds.
    page = read(s3_uri)
    assert s3_uri.endswith("/report.html") and "<svg" in page
    funnel_bars = dict(re.findall(r'data-series="funnel" data-key="(\w+)" data-value="(\d+)"', page))
    assert {k: int(v) for k, v in funnel_bars.items()} == stored["funnel"]
    tiles = dict(re.findall(r'data-kpi="(\w+)">([^<]*)<', page))
    assert tiles["dispatched"] == f"{stored['funnel']['dispatched']:,}"
    assert tiles["asr"] == f"{stored['rates']['asr'] * 100:.1f}%"
    rows = list(csv.DictReader(io.StringIO(read(report["files"]["contacts.csv"]))))
    assert len(rows) == len(phones + invalid)
    assert all(sum(ch.isdigit() for ch in r["phone_masked"]) <= 4 for r in rows), "no more than 4 digits"
    assert sorted(r["status"] for r in rows) == sorted(statuses.values())

    published = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    mine = [p for p in published if p["MessageAttributes"]["campaign_id"]["Value"] == str(campaign_id)]
    assert [p["MessageAttributes"]["outcome"]["Value"] for p in mine] == ["completed"]
    assert f"{len(eligible)} dialed" in mine[0]["Subject"]
