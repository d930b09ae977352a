"""A contact whose zone is not a zone (a tzdata folder, an overlong string) is refused at
resolution with its reason; the campaign's pokes carry on."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from dev.seed import add_contacts, create_campaign
from tests.helpers import open_zone, us_numbers
from tests.integration.test_timeouts import poke_callable

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("bad_zone", ["Europe", "America", "US", "x" * 300])
def test_a_contact_with_a_folder_or_overlong_zone_is_marked_invalid_and_the_poke_carries_on(db, dial_queue, bad_zone):
    campaign_id = create_campaign(
        db,
        "zones",
        status="active",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    good, bad = us_numbers(2, seed=9)
    add_contacts(db, campaign_id, [{"phone": good, "timezone": open_zone()}])
    context = {
        "dag_run": SimpleNamespace(
            run_id="manual__zones", run_type="manual", run_after=datetime.now(timezone.utc), clear_number=0
        ),
        "params": {"dry_run": False, "max_contacts": None, "dispatch": True, "notify": True},
    }
    poke = poke_callable(campaign_id)
    poke(**context)
    # Appended to the running campaign between two pokes.
    add_contacts(db, campaign_id, [{"phone": bad, "timezone": bad_zone}])

    for _ in range(2):
        assert poke(**context).is_done is False

    status, reason = db.execute("SELECT status, status_reason FROM contacts WHERE phone = %s", (bad,)).fetchone()
    assert status == "invalid"
    assert reason.startswith("invalid_phone: unknown time zone")
    assert db.execute("SELECT status FROM contacts WHERE phone = %s", (good,)).fetchone()[0] == "in_flight"
