"""Phone numbers: one identity (E.164), validation, the zones and jurisdiction they imply, and
masking for logs.

Every number that enters the system (a contact, a blacklist row, a Redis opt-out, an import)
goes through ``normalize`` first, so that one person has one string everywhere and an equality
test is an identity test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache

UNKNOWN_ZONE = "Etc/Unknown"


# A number written without a country code is read as a number of this region. A US call centre
# pastes US national numbers ("(212) 555-0123"); CAMPAIGN_DEFAULT_REGION overrides it per
# deployment.
DEFAULT_REGION = os.environ.get("CAMPAIGN_DEFAULT_REGION", "US")

# What the CHECK constraint on blacklist.phone enforces: the shape, not the validity.
E164_SHAPE = re.compile(r"\+[1-9][0-9]{6,14}")

# Why a number is refused, as named reasons (InvalidPhone.reason).
REASONS = frozenset(
    {
        "empty",
        "unparseable",
        "unknown_country_code",
        "no_country_code",
        "too_short",
        "too_long",
        "not_a_valid_number",
        "not_e164",
        "no_time_zone",
        "unknown_time_zone",
    }
)
_MAX_INPUT = 64  # far longer than any number with its formatting; refused before parsing
_SEPARATORS = re.compile(r"[\s().\-/]")


class InvalidPhone(ValueError):
    """A number that must never be dialed; the message is the reason stored on the contact and
    ``reason`` its name (one of REASONS)."""

    def __init__(self, message: str, reason: str = "unparseable"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PhoneInfo:
    e164: str
    country: str  # ISO 3166-1 alpha-2 of the number
    timezones: tuple[str, ...]
    jurisdiction: str  # "US-FL", "US", "GB", "CA+US-FL": every jurisdiction whose rules apply


def mask(phone: str | None) -> str:
    """Only the last 4 digits ever reach a log line."""
    if not phone:
        return "<none>"
    digits = [ch for ch in str(phone) if ch.isdigit()]
    return "***" + "".join(digits[-4:]) if len(digits) > 4 else "***"


@lru_cache(maxsize=1)
def _parse(text: str, region: str | None):
    import phonenumbers

    try:
        return phonenumbers.parse(text, region), None
    except phonenumbers.NumberParseException as exc:
        reason = {
            phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown_country_code"
            if text.lstrip().startswith("+")
            else "no_country_code",
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
            phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
            phonenumbers.NumberParseException.TOO_LONG: "too_long",
        }.get(exc.error_type, "unparseable")
        return None, reason


def _invalid_reason(number) -> str:
    import phonenumbers

    why = phonenumbers.is_possible_number_with_reason(number)
    return {
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown_country_code",
        phonenumbers.ValidationResult.TOO_SHORT: "too_short",
        phonenumbers.ValidationResult.TOO_LONG: "too_long",
    }.get(why, "not_a_valid_number")


def normalize(raw: object, default_region: str | None = DEFAULT_REGION) -> str:
    """The E.164 form of a number as people write it, or InvalidPhone naming why not.

    Accepts E.164, international and national formats with any spaces, dashes, dots and
    brackets, ``tel:`` URIs, a leading ``00`` or the region's own international prefix (``011``
    in the US) in place of ``+``, and a national number of ``default_region`` (``None``: a
    country code is required). An extension is dropped: the line it reaches is the number's.
    Only a number ``phonenumbers`` holds valid for its country is accepted.
    """
    import phonenumbers

    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone("empty number", "empty")
    text = raw.strip()
    if len(text) > _MAX_INPUT:
        raise InvalidPhone("not a phone number: too long to be one", "too_long")
    number, reason = _parse(text, default_region)
    if number is not None and not phonenumbers.is_valid_number(number):
        reason, number = _invalid_reason(number), None
    if number is None:
        # "00" is the international prefix almost everywhere outside North America.
        compact = _SEPARATORS.sub("", text)
        if compact.startswith("00"):
            retry, _ = _parse("+" + compact[2:], None)
            if retry is not None and phonenumbers.is_valid_number(retry):
                number = retry
    if number is None:
        messages = {
            "no_country_code": "no country code and no default region",
            "unknown_country_code": "unknown country code",
            "too_short": "too short for a number of its country",
            "too_long": "too long for a number of its country",
            "not_a_valid_number": "not a valid number for its country",
        }
        raise InvalidPhone(messages.get(reason, "not a phone number"), reason or "unparseable")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_or_none(raw: object, default_region: str | None = DEFAULT_REGION) -> str | None:
    try:
        return normalize(raw, default_region)
    except InvalidPhone:
        return None


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


def resolve(
    phone: str, *, timezone: str | None = None, region: str | None = None, fallback_timezone: str | None = None
) -> PhoneInfo:
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
        raise InvalidPhone(f"unparseable number: {exc}", "unparseable") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number for its country", "not_a_valid_number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 != phone:
        raise InvalidPhone("not in E.164 form", "not_e164")
    country = phonenumbers.region_code_for_number(number) or "ZZ"

    if timezone:
        if not valid_timezone(timezone):
            raise InvalidPhone(f"unknown time zone {timezone!r}", "unknown_time_zone")
        zones: tuple[str, ...] = (timezone,)
    else:
        from phonenumbers import timezone as number_zones

        zones = tuple(sorted(z for z in number_zones.time_zones_for_number(number) if valid_timezone(z)))
        if not zones:
            if fallback_timezone is None or not valid_timezone(fallback_timezone):
                raise InvalidPhone("no time zone for this number and no valid campaign zone", "no_time_zone")
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
