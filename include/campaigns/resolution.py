"""The contacts' resolution: each new contact's number checked once, stored in E.164 with its
zones, jurisdiction and calling-window keys, or the contact marked invalid with the reason."""

from __future__ import annotations

import logging

from include.campaigns.campaign import Campaign
from include.campaigns.db import execute, fetch_all, fetch_one
from include.campaigns.phones import InvalidPhone, normalize, resolve

log = logging.getLogger(__name__)

RESOLVE_CHUNK = 5000


def resolve_contacts(conn, campaign: Campaign) -> dict[str, int]:
    """Check each new contact's number once: store it in E.164 (the one form every list is
    matched in) with its zones, jurisdiction and window keys. A number another contact of the
    campaign already has makes the later one invalid (``duplicate_phone``): one number, one
    contact, dialed once."""
    resolved = invalid = 0
    while True:
        rows = fetch_all(conn, "contacts_unresolved", {"campaign_id": campaign.id, "limit": RESOLVE_CHUNK})
        if not rows:
            return {"resolved": resolved, "invalid": invalid}
        ok: dict[str, list] = {"ids": [], "phones": [], "timezones": [], "jurisdictions": [], "keys": []}
        bad: dict[str, list] = {"ids": [], "reasons": []}
        chosen: dict[str, dict] = {}
        for row in rows:
            try:
                e164 = normalize(row["phone"])
                info = resolve(
                    e164, timezone=row["timezone"], region=row["region"], fallback_timezone=campaign.timezone
                )
            except InvalidPhone as exc:
                bad["ids"].append(row["id"])
                bad["reasons"].append(f"invalid_phone: {exc}")
                continue
            # Within the chunk, the contact already written in E.164 keeps the number, else the first.
            rival = chosen.get(e164)
            if rival is not None and (rival["phone"] == e164 or row["phone"] != e164):
                bad["ids"].append(row["id"])
                bad["reasons"].append("duplicate_phone")
                continue
            if rival is not None:
                bad["ids"].append(rival["id"])
                bad["reasons"].append("duplicate_phone")
            chosen[e164] = {"id": row["id"], "phone": row["phone"], "info": info}
        for e164, pick in chosen.items():
            info = pick["info"]
            ok["ids"].append(pick["id"])
            ok["phones"].append(e164)
            ok["timezones"].append(",".join(info.timezones))
            ok["jurisdictions"].append(info.jurisdiction)
            ok["keys"].append(",".join(f"{z}|{info.jurisdiction}" for z in info.timezones))
        duplicates = 0
        with conn.transaction():
            if ok["ids"]:
                duplicates = fetch_one(conn, "contacts_resolve", ok)["duplicates"]
                execute(conn, "contacts_mark_blacklisted_ids", {"ids": ok["ids"]})
                if campaign.config.requires_consent:
                    execute(conn, "contacts_mark_no_consent_ids", {"ids": ok["ids"]})
            if bad["ids"]:
                execute(conn, "contacts_mark_invalid", bad)
        resolved += len(ok["ids"]) - duplicates
        invalid += len(bad["ids"]) + duplicates
        if bad["ids"] or duplicates:
            log.info(
                "Marked %d contact(s) invalid (%d duplicate number(s)), e.g. contact %s",
                len(bad["ids"]) + duplicates,
                duplicates + bad["reasons"].count("duplicate_phone"),
                (bad["ids"] or ok["ids"])[0],
            )
