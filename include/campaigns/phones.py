"""Phone numbers: validation, the zones and jurisdiction they imply, and masking for logs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNKNOWN_ZONE = "Etc/Unknown"


class InvalidPhone(ValueError):
    """A number that must never be dialed; the message is the reason stored on the contact."""


@dataclass(frozen=True)
class PhoneInfo:
    e164: str
    country: str            # ISO 3166-1 alpha-2 of the number
    timezones: tuple[str, ...]
    jurisdiction: str       # "US-FL", "US", "GB": the key of the legal-hours rules


def mask(phone: str | None) -> str:
    """Only the last 4 digits ever reach a log line."""
    if not phone:
        return "<none>"
    digits = [ch for ch in str(phone) if ch.isdigit()]
    return "***" + "".join(digits[-4:]) if len(digits) > 4 else "***"


@lru_cache(maxsize=1)
def _us_state_codes() -> dict[str, str]:
    import holidays

    return {name.lower(): code for name, code in holidays.US.subdivisions_aliases.items()}


def _us_state(number) -> str | None:
    """The state a US number's geography names: 'Florida' or 'Baltimore, MD'."""
    from phonenumbers import geocoder

    description = geocoder.description_for_number(number, "en")
    if not description:
        return None
    if "," in description:
        code = description.rsplit(",", 1)[1].strip()
        return code if len(code) == 2 and code.isupper() else None
    return _us_state_codes().get(description.strip().lower())


def valid_timezone(name: str | None) -> bool:
    if not name or name == UNKNOWN_ZONE:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def resolve(phone: str, *, timezone: str | None = None, region: str | None = None,
            fallback_timezone: str | None = None) -> PhoneInfo:
    """Validate a number and work out where, in law and in time, it rings.

    The contact's own time zone wins; otherwise every zone the number maps to counts (a
    number spanning two zones is callable only when both are inside the window); the
    campaign's zone is the last resort. ``region`` is the contact's address state, which
    beats the number's geography for the jurisdiction.
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

    jurisdiction = country
    if country == "US":
        state = (region or "").strip().upper() or _us_state(number)
        if state:
            jurisdiction = f"US-{state}"
    return PhoneInfo(e164=e164, country=country, timezones=zones, jurisdiction=jurisdiction)
