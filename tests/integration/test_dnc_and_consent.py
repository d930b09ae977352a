"""Do-not-call list age, consent, and registry extracts loaded with their source and date."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dev.seed import add_contacts, create_campaign
from include.campaigns.blacklist_import import import_numbers
from include.campaigns.campaign import Campaign, load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.validation import CampaignInvalid, validate
from tests.helpers import open_zone, us_numbers
from tests.integration.test_results_ingest import run_context

pytestmark = pytest.mark.integration

UK_NUMBER = "+442079460123"


def campaign_with(db, phones, *, scrubbed, **config) -> Campaign:
    campaign_id = create_campaign(db, "dnc", dnc_scrubbed_at=scrubbed, config={"skip_public_holidays": False, **config})
    add_contacts(db, campaign_id, [{"phone": p, "timezone": open_zone()} for p in phones])
    return load_campaign(db, campaign_id)


def test_us_contacts_are_refused_when_the_dnc_scrub_is_more_than_31_days_old(db):
    campaign = campaign_with(db, us_numbers(2, seed=401), scrubbed=datetime.now(timezone.utc) - timedelta(days=32))
    with pytest.raises(CampaignInvalid, match="more than 31 days old"):
        validate(db, campaign, live=True)


def test_us_contacts_are_refused_when_the_list_was_never_scrubbed(db):
    campaign = campaign_with(db, us_numbers(1, seed=402), scrubbed=None)
    with pytest.raises(CampaignInvalid, match="dnc_scrubbed_at is not set"):
        validate(db, campaign, live=True)


def test_a_scrub_within_31_days_passes(db):
    campaign = campaign_with(db, us_numbers(1, seed=403), scrubbed=datetime.now(timezone.utc) - timedelta(days=30))
    assert validate(db, campaign, live=True)["dispatchable"] == 1


def test_a_campaign_without_us_contacts_needs_no_us_scrub(db):
    campaign = campaign_with(db, [UK_NUMBER], scrubbed=None)
    assert validate(db, campaign, live=True)["dispatchable"] == 1


def test_a_contact_without_consent_is_skipped_with_reason_no_consent(db, redis_client, dial_queue, sqs):
    phones = us_numbers(2, seed=404)
    campaign = campaign_with(
        db,
        phones,
        scrubbed=datetime.now(timezone.utc),
        requires_consent=True,
        dial_queue=dial_queue,
        calling_window={"start": "00:00", "end": "23:59"},
    )
    db.execute(
        "UPDATE contacts SET consent_at = now() - interval '1 day', consent_basis = 'web form' "
        "WHERE campaign_id = %s AND phone = %s",
        (campaign.id, phones[0]),
    )
    assert validate(db, campaign, live=True)["dispatchable"] == 1
    rows = dict(
        db.execute(
            "SELECT phone, status || ':' || coalesce(status_reason, '') FROM contacts WHERE campaign_id = %s",
            (campaign.id,),
        ).fetchall()
    )
    assert rows == {phones[0]: "pending:", phones[1]: "blacklisted:no_consent"}
    assert dispatch(db, campaign, run_context(campaign.id)).sent == 1
    assert db.execute("SELECT phone FROM dial_tasks").fetchall() == [(phones[0],)]


def test_a_contact_added_without_consent_is_skipped_when_it_is_resolved(db, redis_client, dial_queue):
    campaign = campaign_with(
        db,
        [],
        scrubbed=datetime.now(timezone.utc),
        requires_consent=True,
        dial_queue=dial_queue,
        calling_window={"start": "00:00", "end": "23:59"},
    )
    validate(db, campaign, live=True)
    add_contacts(db, campaign.id, [{"phone": us_numbers(1, seed=405)[0], "timezone": open_zone()}])
    assert dispatch(db, campaign, run_context(campaign.id)).sent == 0
    assert db.execute("SELECT status_reason FROM contacts").fetchall() == [("no_consent",)]


def test_without_requires_consent_a_contact_without_consent_is_dialed(db, redis_client, dial_queue):
    campaign = campaign_with(
        db,
        us_numbers(1, seed=406),
        scrubbed=datetime.now(timezone.utc),
        dial_queue=dial_queue,
        calling_window={"start": "00:00", "end": "23:59"},
    )
    validate(db, campaign, live=True)
    assert dispatch(db, campaign, run_context(campaign.id)).sent == 1


def test_a_dnc_extract_is_loaded_with_its_source_and_date(db, redis_client):
    phones = us_numbers(3, seed=407)
    report = import_numbers(db, [p[2:] for p in phones], source="National DNC Registry", as_of=date(2026, 11, 20))
    assert report.imported == 3
    # A later extract takes over the provenance of the numbers it lists again; it adds the new ones.
    report = import_numbers(db, phones[:1] + us_numbers(1, seed=408), source="Vendor X", as_of=date(2026, 11, 27))
    assert (report.imported, report.already_present) == (1, 1)
    rows = dict(
        db.execute("SELECT phone, source || '@' || source_as_of FROM blacklist WHERE campaign_id IS NULL").fetchall()
    )
    assert rows[phones[0]] == "Vendor X@2026-11-27"
    assert rows[phones[1]] == "National DNC Registry@2026-11-20"
    # An older extract never takes it back.
    import_numbers(db, phones[:1], source="Old list", as_of=date(2026, 1, 1))
    assert db.execute("SELECT source FROM blacklist WHERE phone = %s", (phones[0],)).fetchone() == ("Vendor X",)


def test_a_dnc_import_keeps_a_permanent_entry_permanent(db, redis_client):
    phone = us_numbers(1, seed=409)[0]
    import_numbers(db, [phone])
    import_numbers(
        db,
        [phone],
        source="Vendor",
        as_of=date(2026, 11, 1),
        expires_at=datetime.now(timezone.utc) + timedelta(days=10),
    )
    assert db.execute("SELECT expires_at, source FROM blacklist").fetchone() == (None, "Vendor")


def test_a_source_needs_its_date():
    with pytest.raises(ValueError, match="go together"):
        import_numbers(None, ["+12125550123"], source="Registry")
