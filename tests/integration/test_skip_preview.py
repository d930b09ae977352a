"""Explained skips before launch: a dry run says, for its instant, how many contacts would be sent
and how many are skipped, by reason and by jurisdiction; the report's blocked section too."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dev.seed import add_blacklist, add_contacts, create_campaign
from include.campaigns.blackouts import declare
from include.campaigns.campaign import load_campaign
from include.campaigns.dispatch import dispatch
from include.campaigns.report_render import render_html
from include.campaigns.reporting import build_report, skips
from include.campaigns.resolution import resolve_contacts
from tests.helpers import closed_zone, open_zone, us_numbers
from tests.integration.test_results_ingest import run_context

pytestmark = pytest.mark.integration


@pytest.fixture
def mixed_campaign(db, dial_queue):
    """Contacts in New York (212) and Texas (512), each kept back for a different reason."""
    now = datetime.now(timezone.utc)
    campaign_id = create_campaign(
        db,
        "preview",
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "requires_consent": True,
            "calling_window": {"start": "00:00", "end": "23:59"},
        },
    )
    ny, tx = us_numbers(8, seed=601), us_numbers(3, seed=602, area="512")
    zone, night = open_zone(now), closed_zone(now)
    rows = [{"phone": p, "timezone": zone} for p in ny[:6]] + [{"phone": ny[6], "timezone": night}]
    rows += [{"phone": p, "timezone": zone} for p in tx] + [{"phone": "+1555", "timezone": zone}]
    add_contacts(db, campaign_id, rows)
    db.execute("UPDATE contacts SET consent_at = now() WHERE campaign_id = %s AND phone <> %s", (campaign_id, ny[5]))
    add_blacklist(db, [ny[4]])
    resolve_contacts(db, load_campaign(db, campaign_id))
    # An abandoned call locked one out; a busy one waits its retry delay.
    db.execute(
        "UPDATE contacts SET status = 'failed', last_outcome = 'abandoned', next_attempt_at = now() + "
        "interval '3 days' WHERE phone = %s",
        (ny[3],),
    )
    db.execute(
        "UPDATE contacts SET status = 'failed', last_outcome = 'busy', next_attempt_at = now() + "
        "interval '1 hour' WHERE phone = %s",
        (ny[2],),
    )
    declare(db, "US-TX", now - timedelta(hours=1), now + timedelta(hours=1), "hurricane")
    return campaign_id


EXPECTED_BY_REASON = {
    "blacklist": 1,
    "blackout": 3,
    "invalid_number": 1,
    "legal_hours": 1,
    "lockout": 1,
    "no_consent": 1,
    "retry_later": 1,
}


def test_the_skips_say_who_could_be_dialed_now_and_why_the_others_cannot(db, mixed_campaign):
    preview = skips(db, load_campaign(db, mixed_campaign), datetime.now(timezone.utc))
    assert preview["eligible"] == 2 and preview["eligible_by_jurisdiction"] == {"US-NY": 2}
    assert preview["skipped_by_reason"] == EXPECTED_BY_REASON
    assert preview["skipped_by_jurisdiction"] == {
        "US-NY": {"blacklist": 1, "legal_hours": 1, "lockout": 1, "no_consent": 1, "retry_later": 1},
        "US-TX": {"blackout": 3},
        "unknown": {"invalid_number": 1},
    }


def test_a_dry_run_reports_what_would_be_sent_and_the_skips_by_reason_and_jurisdiction(
    db, redis_client, mixed_campaign
):
    campaign = load_campaign(db, mixed_campaign)
    run = run_context(mixed_campaign, dry_run=True)
    result = dispatch(db, campaign, run)
    assert result.would_dispatch == 2
    assert db.execute("SELECT count(*) FROM dial_tasks").fetchone() == (0,)
    report = build_report(db, mixed_campaign, run, "completed", None, dry_run=result.as_dict())
    assert report["dry_run"]["would_dispatch"] == 2 and report["dry_run"]["eligible"] == 2
    assert report["dry_run"]["skipped_by_reason"] == EXPECTED_BY_REASON
    assert report["dry_run"]["skipped_by_jurisdiction"]["US-TX"] == {"blackout": 3}
    assert report["blocked_by_jurisdiction"]["US-NY"]["lockout"] == 1
    html = render_html(report)
    assert 'data-table="skipped_by_jurisdiction" data-key="US-TX" data-col="blackout" data-value="3"' in html
    assert 'data-table="blocked_by_jurisdiction" data-key="US-NY" data-col="no_consent" data-value="1"' in html
