"""The walk and the claim hold one rule of eligibility.

Who may be dialed is written twice, on purpose and in different forms: the walk
(``dial_tasks_claim_walk.sql``) reads a zone's contacts in claim order without locks, and the
claim (``dial_tasks_claim.sql``) locks the contacts the walk picked and checks every rule again.
The same adversarial contacts go through both, on the real database, through the claimer dispatch
uses: the walk must offer every contact the claim takes (else an eligible contact is never
dialed), and the claim must take every contact the walk offers, but for the checks the claim
alone makes (below).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dev.seed import add_contacts, create_campaign
from include.campaigns import dispatch
from include.campaigns.calling_window import legal_rule
from include.campaigns.campaign import load_campaign
from include.campaigns.config import parse_config
from include.campaigns.results import ingest_all
from include.campaigns.runs import RunContext
from tests.integration.conftest import CAMPAIGN_TABLES

pytestmark = pytest.mark.integration

STATUSES = [
    "pending",
    "in_flight",
    "failed",
    "completed",
    "opted_out",
    "exhausted",
    "blacklisted",
    "invalid",
    "expired",
]
# Window keys (zone|jurisdiction): with and without a legal 24 h cap, a composite key, the UK.
KEYS = [
    "America/New_York|US-NY",
    "America/New_York|US-FL",
    "America/Chicago|US-FL+US-GA",
    "America/Chicago|US-TX",
    "Europe/London|GB",
]
US_PHONES = [f"+1212555{n:04d}" for n in range(100, 112)]
GB_PHONE, GB_VARIANT = "+442079460958", "+4402079460958"  # a variant E.164 in shape only
PHONES = US_PHONES + [GB_PHONE]
OUTCOMES = ["answered", "busy", "no_answer", "voicemail", "failed", "abandoned", "machine", "opted_out"]

contact = st.fixed_dictionaries(
    {
        # Every status, most of them dialable, so that each rule is met as often as it is broken.
        "status": st.sampled_from(STATUSES + ["pending"] * 12 + ["failed"] * 6),
        "attempts": st.sampled_from([0, 0, 0, 1, 2, 2, 3, 4]),
        "retry": st.sampled_from(["none", "none", "due", "due", "later"]),
        # An unresolved contact has no window keys; most have one or two.
        "keys": st.sampled_from([[]] + [[k] for k in KEYS] * 2 + [[a, b] for a in KEYS for b in KEYS if a < b]),
        "priority": st.integers(0, 2),
    }
)
# Another campaign's contact of one of the numbers, and its dial task, if any.
history = st.fixed_dictionaries(
    {
        "phone": st.sampled_from(PHONES[:6] + [GB_PHONE]),
        "keys": st.lists(st.sampled_from(KEYS), min_size=1, max_size=1),
        "task": st.sampled_from(["none", "sent", "completed", "expired", "old"]),
        "outcome": st.sampled_from([None] + OUTCOMES),
    }
)
listing = st.fixed_dictionaries(
    {
        "phone": st.sampled_from(PHONES + [GB_VARIANT]),
        "scope": st.sampled_from(["global", "this", "other", "expired"]),
    }
)
# One of this campaign's own contacts whose expired attempt's result has come but is not ingested.
own_pending = st.lists(st.integers(0, 15), max_size=2, unique=True)


def _build(db, now, contacts, histories, listings, pending, cap):
    db.execute("TRUNCATE " + ", ".join(CAMPAIGN_TABLES) + " RESTART IDENTITY CASCADE")
    config = {"max_attempts": 3, "max_attempts_per_24h": cap}
    campaign_id = create_campaign(db, "walked", config=config)
    other_id = create_campaign(db, "elsewhere")
    phones = PHONES[: len(contacts)]
    ids = add_contacts(db, campaign_id, [{"phone": p, "priority": c["priority"]} for p, c in zip(phones, contacts)])
    for contact_id, c in zip(ids, contacts):
        keys = c["keys"]
        db.execute(
            "UPDATE contacts SET timezones = %s, jurisdiction = %s, window_keys = %s, attempts = %s, "
            "status = %s, next_attempt_at = %s WHERE id = %s",
            (
                [k.split("|")[0] for k in keys] or None,
                keys[0].split("|")[1] if keys else None,
                keys,
                c["attempts"],
                c["status"],
                {"none": None, "due": now - timedelta(minutes=5), "later": now + timedelta(hours=1)}[c["retry"]],
                contact_id,
            ),
        )

    # Other campaigns' calls to the same numbers, their results ingested as the results DAG does.
    other_phones = sorted({h["phone"] for h in histories})
    other_ids = dict(zip(other_phones, add_contacts(db, other_id, [{"phone": p} for p in other_phones])))
    for n, h in enumerate(histories):
        contact_id, key = other_ids[h["phone"]], h["keys"][0]
        db.execute(
            "UPDATE contacts SET timezones = %s, jurisdiction = %s, window_keys = %s, status = 'in_flight' "
            "WHERE id = %s",
            ([key.split("|")[0]], key.split("|")[1], [key], contact_id),
        )
        if h["task"] == "none":
            continue
        attempt_id = f"c{other_id}-{contact_id}-{n + 1}"
        claimed = now - (timedelta(hours=30) if h["task"] == "old" else timedelta(minutes=30))
        db.execute(
            "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, "
            "status, not_after, claimed_at) VALUES (%s, %s, %s, %s, %s, 'r0', %s, %s, %s)",
            (
                attempt_id,
                other_id,
                contact_id,
                h["phone"],
                n + 1,
                "completed" if h["task"] == "old" else h["task"],
                claimed + timedelta(minutes=10),
                claimed,
            ),
        )
        if h["outcome"] is not None:
            db.execute(
                "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, "
                "started_at, ended_at, duration_s) VALUES (%s, %s, %s, %s, %s, %s, %s, 30)",
                (
                    attempt_id,
                    other_id,
                    contact_id,
                    h["phone"],
                    h["outcome"],
                    claimed + timedelta(minutes=1),
                    claimed + timedelta(minutes=2),
                ),
            )
    ingest_all(db)

    for item in listings:
        db.execute(
            "INSERT INTO blacklist (phone, campaign_id, expires_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (
                item["phone"],
                {"global": None, "this": campaign_id, "other": other_id, "expired": None}[item["scope"]],
                now - timedelta(hours=1) if item["scope"] == "expired" else None,
            ),
        )
    for index in pending:
        if index >= len(ids):
            continue
        attempt_id = f"c{campaign_id}-{ids[index]}-9"
        db.execute(
            "INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, "
            "status, not_after, claimed_at) VALUES (%s, %s, %s, %s, 1, 'r0', 'expired', %s, %s)",
            (attempt_id, campaign_id, ids[index], phones[index], now - timedelta(hours=2), now - timedelta(hours=3)),
        )
        db.execute(
            "INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, "
            "started_at, ended_at, duration_s) VALUES (%s, %s, %s, %s, 'busy', %s, %s, 5)",
            (attempt_id, campaign_id, ids[index], phones[index], now - timedelta(hours=3), now - timedelta(hours=3)),
        )
    # What resolution records: the window keys each campaign's contacts are placed in.
    db.execute(
        "INSERT INTO campaign_window_keys (campaign_id, window_key) "
        "SELECT DISTINCT campaign_id, unnest(window_keys) FROM contacts ON CONFLICT DO NOTHING"
    )
    return campaign_id, config, dict(zip(ids, phones))


def _claim_only_refusals(db, phones: dict[int, str], cap_24h: int | None, capped: set[str]) -> set[int]:
    """The contacts that a check only the claim makes refuses, where the walk is deliberately
    looser (so the claim refuses what the walk offers, never the reverse): a contact waits while a
    result of its expired attempt is not ingested; and when a cap applies, an expired attempt whose
    result has come counts towards it, and the legal cap is the lowest of any contact of the number
    in any campaign (the walk takes its own contact's); and a lockout after an outcome binds the
    number wherever any contact of it is placed, whichever campaign made the call."""
    from include.campaigns.calling_window import legal_rule, lockout_until, split_key

    def legal(jurisdiction):
        return legal_rule(jurisdiction).max_attempts_24h if jurisdiction in capped else None

    def lowest(*caps):
        return min((c for c in caps if c is not None), default=2**31)

    refused = set()
    for contact_id, phone in phones.items():
        waits = db.execute(
            "SELECT EXISTS (SELECT 1 FROM dial_tasks t JOIN call_records r USING (dial_attempt_id) "
            "WHERE t.contact_id = %s AND t.status = 'expired' AND r.ingested_at IS NULL)",
            (contact_id,),
        ).fetchone()[0]
        calls, late_calls = db.execute(
            "SELECT count(*) FILTER (WHERE t.status <> 'expired'), count(*) FILTER (WHERE t.status = 'expired' "
            "AND EXISTS (SELECT 1 FROM call_records r WHERE r.dial_attempt_id = t.dial_attempt_id)) "
            "FROM dial_tasks t WHERE t.phone = %s AND t.claimed_at > now() - interval '24 hours'",
            (phone,),
        ).fetchone()
        own = db.execute("SELECT jurisdiction FROM contacts WHERE id = %s", (contact_id,)).fetchone()[0]
        others = [r[0] for r in db.execute("SELECT jurisdiction FROM contacts WHERE phone = %s", (phone,))]
        walk_allows = calls < lowest(cap_24h, legal(own))
        claim_allows = calls + late_calls < lowest(cap_24h, *map(legal, others))
        keys = [
            k for r in db.execute("SELECT window_keys FROM contacts WHERE phone = %s", (phone,)) for k in r[0] or []
        ]
        now = datetime.now(timezone.utc)
        locked = any(
            (until := lockout_until(*split_key(key), outcome, at)) is not None and until > now
            for outcome, at in db.execute("SELECT outcome, outcome_at FROM number_lockouts WHERE phone = %s", (phone,))
            for key in keys
        )
        if waits or locked or ((cap_24h is not None or capped) and walk_allows and not claim_allows):
            refused.add(contact_id)
    return refused


def _placed_in(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT DISTINCT split_part(window_key, '|', 2) FROM campaign_window_keys")}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contacts=st.lists(contact, min_size=4, max_size=len(PHONES)),
    histories=st.lists(history, max_size=8),
    listings=st.lists(listing, max_size=4),
    pending=own_pending,
    cap=st.sampled_from([None, 1, 1, 2]),
    open_keys=st.sets(st.sampled_from(KEYS), min_size=3),
    shards=st.sampled_from([(0, 1), (0, 2), (1, 2)]),
)
def test_the_walk_offers_exactly_the_contacts_the_claim_takes(
    db, contacts, histories, listings, pending, cap, open_keys, shards
):
    now = datetime.now(timezone.utc)
    campaign_id, config, phones = _build(db, now, contacts, histories, listings, pending, cap)
    opened = {key: now + timedelta(hours=1) for key in sorted(open_keys)}
    shard, shard_count = shards

    def claimer():
        run = RunContext(
            campaign_id=campaign_id, run_id="r1", run_start=now, run_end=now + timedelta(hours=2), live=True
        )
        return dispatch.Claimer(
            db,
            load_campaign(db, campaign_id),
            parse_config(config),
            run,
            opened,
            now,
            shard=shard,
            shard_count=shard_count,
            page=3,
        )

    # The walk's answer: every contact the claimer's walk reads, in pages, across the open zones.
    # The claimer's candidate stream (``_next``) is the one place this test reaches inside it: the
    # walk feeds it, and the claim takes the ids it yields.
    walked = {key[-1] for key in claimer()._next}
    # The claim's answer for every contact of the campaign, not only those the walk picked.
    claim = claimer()
    claim._next = iter([(0, 0.0, 0, contact_id) for contact_id in sorted(phones)])
    claimed = {row["contact_id"] for row in claim.claim(len(phones))}
    # The shards are the walk's partition alone: the claim takes the ids it is given (SKIP LOCKED
    # keeps two shards from taking one contact), so it is asked about this shard's contacts.
    assert all(contact_id % shard_count == shard for contact_id in walked)
    claimed = {contact_id for contact_id in claimed if contact_id % shard_count == shard}

    event(f"offered by the walk: {min(len(walked), 3)}+" if walked else "offered by the walk: none")
    assert claimed <= walked, f"the claim takes contacts the walk never offers: {sorted(claimed - walked)}"
    capped = {j for j in _placed_in(db) | {key.split("|")[1] for key in opened} if legal_rule(j).max_attempts_24h}
    loose = _claim_only_refusals(db, phones, cap, capped)
    event(f"refused by a check the claim alone makes: {'some' if loose & walked else 'none'}")
    event("a cap applies" if cap is not None or capped else "no cap applies")
    assert walked - claimed <= loose, f"the walk offers contacts the claim refuses: {sorted(walked - claimed - loose)}"
