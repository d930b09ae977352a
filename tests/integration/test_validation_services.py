"""Validation rules that need the services: audio files in S3, and contacts that can be called."""

from __future__ import annotations

import pytest

from dev.seed import add_blacklist, add_contacts, create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.validation import CampaignInvalid, validate
from tests.helpers import us_numbers

pytestmark = pytest.mark.integration


@pytest.fixture
def audio_bucket():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from include.campaigns.resources import report_bucket

    hook = S3Hook(aws_conn_id="campaigns_aws")
    hook.load_string("RIFF....WAVE", key="prompts/greeting.wav", bucket_name=report_bucket(), replace=True)
    return report_bucket()


def test_audio_that_exists_in_s3_passes_and_missing_audio_is_named(db, audio_bucket):
    campaign_id = create_campaign(
        db,
        "audio",
        config={
            "audio": ["prompts/greeting.wav", f"s3://{audio_bucket}/prompts/missing.wav"],
            "ivr_flow": {"entry": "a", "nodes": {"a": {"audio": "prompts/also-missing.wav", "next": []}}},
        },
    )
    add_contacts(db, campaign_id, [{"phone": us_numbers(1, seed=80)[0]}])
    with pytest.raises(CampaignInvalid) as caught:
        validate(db, load_campaign(db, campaign_id), live=True)
    assert caught.value.problems == [
        "audio file prompts/also-missing.wav does not exist in S3",
        f"audio file s3://{audio_bucket}/prompts/missing.wav does not exist in S3",
    ]
    stored = db.execute("SELECT validation_errors FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0]
    assert stored == caught.value.problems


def test_a_campaign_without_contacts_is_valid_and_has_nobody_to_dispatch(db):
    # No contacts yet is not a fault: the run's poke completes it (nothing is left to do).
    campaign_id = create_campaign(db, "empty")
    summary = validate(db, load_campaign(db, campaign_id), live=True)
    assert (summary["contacts"], summary["dispatchable"]) == (0, 0)
    assert db.execute("SELECT validation_errors FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0] is None


def test_a_campaign_whose_every_contact_is_blocked_is_valid_and_has_nobody_to_dispatch(db):
    # Nobody callable is not a fault: the run's poke ends it (completed, with every contact finished).
    phones = us_numbers(2, seed=81)
    campaign_id = create_campaign(db, "all_blocked")
    add_contacts(db, campaign_id, [{"phone": phones[0]}, {"phone": "+1555"}])
    db.execute("UPDATE contacts SET status = 'blacklisted' WHERE phone = %s", (phones[0],))
    summary = validate(db, load_campaign(db, campaign_id), live=True)
    assert (summary["contacts"], summary["dispatchable"]) == (2, 0)


def test_a_valid_campaign_resolves_its_contacts_and_clears_old_problems(db, audio_bucket):
    phones = us_numbers(3, seed=82)
    campaign_id = create_campaign(db, "fine", config={"audio": ["prompts/greeting.wav"]})
    add_contacts(db, campaign_id, [{"phone": p} for p in phones] + [{"phone": "+1555"}])
    add_blacklist(db, phones[:1])
    db.execute("UPDATE campaigns SET validation_errors = '[\"old\"]' WHERE id = %s", (campaign_id,))
    summary = validate(db, load_campaign(db, campaign_id), live=True)
    assert summary == {"contacts": 4, "dispatchable": 2, "resolved": 3, "invalid": 1}, "blacklisted on arrival"
    assert db.execute("SELECT validation_errors FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0] is None
