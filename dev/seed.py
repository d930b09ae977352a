"""Create campaigns, contacts and blacklist entries: the demo's data, and the tests' builders."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

# Valid-number prefixes per place, chosen so the demo spans many zones and legal regimes.
DEMO_REGIONS = [
    ("+1212", 7, "America/New_York"),  # New York, NY
    ("+1305", 7, "America/New_York"),  # Florida: 08:00-20:00, 3 attempts a day
    ("+1312", 7, "America/Chicago"),  # Chicago, IL
    ("+1205", 7, "America/Chicago"),  # Alabama: no Sundays, no holidays
    ("+1303", 7, "America/Denver"),  # Denver, CO
    ("+1213", 7, "America/Los_Angeles"),  # Los Angeles, CA
    ("+4420", 8, "Europe/London"),  # London
    ("+813", 8, "Asia/Tokyo"),  # Tokyo
]

CREATE_CAMPAIGN = """
INSERT INTO campaigns (slug, name, campaign_type, status, timezone, schedule, start_at, end_at, owner, tags,
                       poke_interval_s, max_in_flight, config, dnc_scrubbed_at)
VALUES (%(slug)s, %(name)s, %(campaign_type)s, %(status)s, %(timezone)s, %(schedule)s, %(start_at)s, %(end_at)s,
        %(owner)s, %(tags)s, %(poke_interval_s)s, %(max_in_flight)s, %(config)s::jsonb, %(dnc_scrubbed_at)s)
RETURNING id
"""


def create_campaign(
    conn,
    slug: str,
    *,
    name: str | None = None,
    status: str = "scheduled",
    campaign_type: str = "outbound_ivr",
    tz: str = "UTC",
    schedule: str | None = None,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    owner: str = "campaign-ops",
    tags: list[str] | None = None,
    poke_interval_s: int = 2,
    max_in_flight: int = 500,
    config: dict | None = None,
    dnc_scrubbed_at: datetime | str | None = "now",
) -> int:
    """A campaign row; its list counts as scrubbed against the do-not-call registry just now
    unless ``dnc_scrubbed_at`` says otherwise (None: never)."""
    now = datetime.now(timezone.utc)
    row = conn.execute(
        CREATE_CAMPAIGN,
        {
            "slug": slug,
            "name": name or slug.replace("_", " ").title(),
            "campaign_type": campaign_type,
            "status": status,
            "timezone": tz,
            "schedule": schedule,
            "start_at": start_at or now - timedelta(minutes=5),
            "end_at": end_at or now + timedelta(hours=2),
            "owner": owner,
            "tags": tags or [],
            "poke_interval_s": poke_interval_s,
            "max_in_flight": max_in_flight,
            "config": json.dumps(config or {}),
            "dnc_scrubbed_at": now if dnc_scrubbed_at == "now" else dnc_scrubbed_at,
        },
    ).fetchone()
    return row[0]


def add_contacts(conn, campaign_id: int, contacts: list[dict]) -> list[int]:
    """Bulk-load contacts with COPY; each dict has phone and optionally timezone, region, priority."""
    with conn.cursor() as cur:
        with cur.copy(
            "COPY contacts (campaign_id, phone, timezone, region, priority, external_ref) FROM STDIN"
        ) as copy:
            for i, c in enumerate(contacts):
                copy.write_row(
                    (
                        campaign_id,
                        c["phone"],
                        c.get("timezone"),
                        c.get("region"),
                        c.get("priority", 0),
                        c.get("external_ref", f"ref-{i}"),
                    )
                )
    rows = conn.execute("SELECT id FROM contacts WHERE campaign_id = %s ORDER BY id", (campaign_id,)).fetchall()
    return [r[0] for r in rows]


def add_blacklist(
    conn,
    phones: list[str],
    *,
    campaign_id: int | None = None,
    reason: str = "do_not_call",
    expires_at: datetime | None = None,
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO blacklist (phone, campaign_id, reason, expires_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [(p, campaign_id, reason, expires_at) for p in phones],
        )


def delete_campaign(conn, slug: str) -> None:
    conn.execute("DELETE FROM campaigns WHERE slug = %s", (slug,))


def phone_numbers(prefix: str, digits: int, count: int, rng: random.Random) -> list[str]:
    """Distinct, valid E.164 numbers under a prefix."""
    import phonenumbers

    found: set[str] = set()
    while len(found) < count:
        candidate = prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits))
        if prefix.startswith("+1") and candidate[5] in "01":
            continue  # NANP exchanges never start with 0 or 1
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate, None)):
            found.add(candidate)
    return sorted(found)


def demo_contacts(per_region: int, rng: random.Random) -> list[dict]:
    contacts = []
    for prefix, digits, _zone in DEMO_REGIONS:
        for phone in phone_numbers(prefix, digits, per_region, rng):
            contacts.append({"phone": phone, "priority": rng.randint(0, 3)})
    rng.shuffle(contacts)
    return contacts
