"""validate_campaign refuses a campaign whose config sends dial tasks, notifications or audio
reads anywhere but the allowed destinations (by default: the stack's own)."""

from __future__ import annotations

import json

import pytest

from dev.seed import add_contacts, create_campaign
from tests.helpers import us_numbers

pytestmark = pytest.mark.integration


def validate(db, slug: str):
    from include.campaigns.campaign import load_campaign
    from include.campaigns.validation import CampaignInvalid, validate

    campaign_id = db.execute("SELECT id FROM campaigns WHERE slug = %s", (slug,)).fetchone()[0]
    try:
        validate(db, load_campaign(db, campaign_id), live=True)
    except CampaignInvalid as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(
    "config, words",
    [
        ({"dial_queue": "https://sqs.us-east-1.amazonaws.com/999999999999/exfiltrate"}, "dial_queue"),
        ({"notification_topic": "arn:aws:sns:us-east-1:999999999999:theirs"}, "notification_topic"),
    ],
)
def test_a_cross_account_destination_is_refused_and_stored_with_its_reason(db, config, words):
    campaign_id = create_campaign(db, "elsewhere", config=config)
    add_contacts(db, campaign_id, [{"phone": p} for p in us_numbers(2, seed=3)])

    problems = validate(db, "elsewhere")

    assert any(p.startswith(words) and "not under an allowed" in p for p in problems), problems
    stored = db.execute("SELECT validation_errors FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0]
    assert stored == problems


def test_the_stacks_own_queue_by_url_and_an_allow_listed_one_pass(db, dial_queue, monkeypatch):
    campaign_id = create_campaign(db, "at_home", config={"dial_queue": dial_queue})
    add_contacts(db, campaign_id, [{"phone": p} for p in us_numbers(2, seed=4)])
    assert validate(db, "at_home") == []

    partner = "https://sqs.eu-west-1.amazonaws.com/111111111111/partner-dialer"
    db.execute(
        "UPDATE campaigns SET config = %s::jsonb WHERE id = %s", (json.dumps({"dial_queue": partner}), campaign_id)
    )
    assert validate(db, "at_home")[0].startswith("dial_queue")
    monkeypatch.setenv(
        "AIRFLOW_VAR_CAMPAIGN_ALLOWED_QUEUE_PREFIXES", json.dumps(["https://sqs.eu-west-1.amazonaws.com/111111111111/"])
    )
    assert validate(db, "at_home") == []
