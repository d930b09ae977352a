"""Phone numbers: validation, the zones and jurisdiction they imply, and masking for logs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

UNKNOWN_ZONE = "Etc/Unknown"


class InvalidPhone(ValueError):
    """A number that must never be dialed; the message is the reason stored on the contact."""


@dataclass(frozen=True)
class PhoneInfo:
    e164: str
    country: str            # ISO 3166-1 alpha-2 of the number
    timezones: tuple[str, ...]
    jurisdiction: str       # "US-FL", "US", "GB", "CA+US-FL": every jurisdiction whose rules apply


def mask(phone: str | None) -> str:
    """Only the last 4 digits ever reach a log line."""
    if not phone:
        return "<none>"
    digits = [ch for ch in str(phone) if ch.isdigit()]
    return "***" + "".join(digits[-4:]) if len(digits) > 4 else "***"


@lru_cache(maxsize=1)
def _us_state_codes() -> dict[str, str]:
    import holidays

    names = {name.lower(): code for name, code in holidays.US.subdivisions_aliases.items()}
    names.update({code.lower(): code for code in holidays.US.subdivisions})
    # Spellings the phonenumbers geocoder uses beside the plain state names.
    names.update({"washington state": "WA", "washington d.c.": "DC", "washington dc": "DC", "d.c.": "DC"})
    return names


def us_state_code(name: str | None) -> str | None:
    """'FL', 'fl', 'Florida', 'US-FL' or 'Washington D.C.' to a state code; None if not a state."""
    if not name:
        return None
    key = name.strip().lower()
    if key.startswith("us-"):
        key = key[3:]
    return _us_state_codes().get(key)


def _us_state(number) -> str | None:
    """The state a US number's geography names: 'Florida', 'Baltimore, MD' or 'Washington State'."""
    from phonenumbers import geocoder

    description = geocoder.description_for_number(number, "en")
    if not description:
        return None
    if "," in description:
        return us_state_code(description.rsplit(",", 1)[1])
    return us_state_code(description)


def valid_timezone(name: str | None) -> bool:
    from include.campaigns.campaign_row import known_timezone

    # Membership, not ZoneInfo(name): a tzdata folder ("Europe") or an overlong name raises
    # IsADirectoryError or OSError there instead of being refused.
    return name != UNKNOWN_ZONE and known_timezone(name)


def resolve(phone: str, *, timezone: str | None = None, region: str | None = None,
            fallback_timezone: str | None = None) -> PhoneInfo:
    """Validate a number and work out where, in law and in time, it rings.

    The contact's own time zone wins; otherwise every zone the number maps to counts (a
    number spanning two zones is callable only when both are inside the window); the
    campaign's zone is the last resort. ``region`` is the contact's address state; its law
    applies as well as that of the number's geography (a composite jurisdiction, 'US-FL+US-GA').
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"unparseable number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number for its country")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != phone:
        raise InvalidPhone("not in E.164 form")
    country = phonenumbers.region_code_for_number(number) or "ZZ"

    if timezone:
        if not valid_timezone(timezone):
            raise InvalidPhone(f"unknown time zone {timezone!r}")
        zones: tuple[str, ...] = (timezone,)
    else:
        from phonenumbers import timezone as number_zones

        zones = tuple(sorted(z for z in number_zones.time_zones_for_number(number) if valid_timezone(z)))
        if not zones:
            if not valid_timezone(fallback_timezone):
                raise InvalidPhone("no time zone for this number and no valid campaign zone")
            zones = (fallback_timezone,)

    # Every jurisdiction whose law may apply holds at once: the number's country or the state its
    # geography names, and a US address state even on a foreign number. An unreadable address
    # adds nothing.
    from include.campaigns.calling_window import composite_jurisdiction

    candidates = [country]
    if country == "US" and (state := _us_state(number)):
        candidates.append(f"US-{state}")
    if address_state := us_state_code(region):
        candidates.append(f"US-{address_state}")
    jurisdiction = composite_jurisdiction(candidates)
    return PhoneInfo(e164=e164, country=country, timezones=zones, jurisdiction=jurisdiction)
