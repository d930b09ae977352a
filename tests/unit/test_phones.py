"""Phone numbers: masking for logs, and where (in law and in time) a number rings."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.campaigns.phones import InvalidPhone, PhoneInfo, mask, resolve, valid_timezone

PROPERTY = settings(max_examples=300, deadline=None)

MIAMI = "+13055550123"  # geocoder: "Florida"
BALTIMORE = "+14102345678"  # geocoder: "Baltimore, MD"
AUSTRALIAN_MOBILE = "+61412345678"  # rings in any of Australia's zones
INTERNATIONAL_FREEPHONE = "+80012345678"  # valid, but no time zone at all


# --------------------------------------------------------------------------------------------
# mask
# --------------------------------------------------------------------------------------------


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@PROPERTY
@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_mask_of_a_digit_string_shows_at_most_its_last_4_digits(digits):
    expected = "***" + digits[-4:] if len(digits) > 4 else "***"
    assert mask(digits) == expected


@st.composite
def formatted_numbers(draw) -> tuple[str, str]:
    """A digit sequence, and that sequence written with +, spaces, dashes, dots and brackets."""
    digits = draw(st.text(alphabet="0123456789", min_size=1, max_size=16))
    separators = st.text(alphabet=" -.()/", max_size=2)
    parts = [draw(st.sampled_from(["", "+", "00", "tel:+"]))] if draw(st.booleans()) else []
    prefix_digits = _digits("".join(parts))
    for ch in digits:
        parts.append(ch)
        parts.append(draw(separators))
    return "".join(parts), prefix_digits + digits


@PROPERTY
@given(formatted_numbers())
def test_mask_of_a_formatted_number_shows_only_the_last_4_digits_and_no_formatting(case):
    formatted, all_digits = case
    masked = mask(formatted)
    assert masked.startswith("***")
    revealed = masked[3:]
    assert revealed.isdigit() or revealed == ""
    assert revealed == (all_digits[-4:] if len(all_digits) > 4 else "")


@PROPERTY
@given(st.text(max_size=40))
def test_mask_of_any_text_never_contains_more_than_4_digits(text):
    masked = mask(text)
    assert masked == "<none>" or masked.startswith("***")
    assert len(_digits(masked)) <= 4
    assert len(masked) <= 7


ALL_FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_mask_reveals_the_same_last_4_digits_whatever_the_number_format(fmt):
    number = phonenumbers.parse(MIAMI, None)
    assert mask(phonenumbers.format_number(number, fmt)) == "***0123"


@pytest.mark.parametrize("empty", [None, ""])
def test_mask_of_no_number_says_none(empty):
    assert mask(empty) == "<none>"


@pytest.mark.parametrize("short", ["1", "1234", "+1-2-3-4"])
def test_mask_of_a_number_with_4_digits_or_fewer_reveals_nothing(short):
    assert mask(short) == "***"


# --------------------------------------------------------------------------------------------
# resolve: jurisdiction
# --------------------------------------------------------------------------------------------


def test_a_miami_number_is_in_florida_jurisdiction_and_new_york_time():
    assert resolve(MIAMI) == PhoneInfo(e164=MIAMI, country="US", timezones=("America/New_York",), jurisdiction="US-FL")


def test_a_baltimore_number_is_in_maryland_jurisdiction():
    assert resolve(BALTIMORE).jurisdiction == "US-MD"


@pytest.mark.parametrize(
    "phone, jurisdiction, zone",
    [
        ("+12055550123", "US-AL", "America/Chicago"),  # "Alabama"
        ("+14052345678", "US-OK", "America/Chicago"),  # "Oklahoma City, OK"
        ("+15045550123", "US-LA", "America/Chicago"),  # "Louisiana"
        ("+16012345678", "US-MS", "America/Chicago"),  # "Mississippi"
        ("+12125550123", "US-NY", "America/New_York"),  # "New York, NY"
        ("+18082345678", "US-HI", "Pacific/Honolulu"),  # "Kaneohe, HI"
    ],
)
def test_a_us_numbers_state_comes_from_its_geography(phone, jurisdiction, zone):
    info = resolve(phone)
    assert (info.jurisdiction, info.timezones) == (jurisdiction, (zone,))


def test_a_us_toll_free_number_has_no_state_so_gets_the_federal_jurisdiction():
    info = resolve("+18005550123")
    assert info.jurisdiction == "US"
    assert len(info.timezones) > 1


@pytest.mark.parametrize("region, jurisdiction", [("NY", "US-FL+US-NY"), (" ny ", "US-FL+US-NY"), ("fl", "US-FL")])
def test_the_address_state_and_the_numbers_state_both_apply(region, jurisdiction):
    assert resolve(MIAMI, region=region).jurisdiction == jurisdiction


@pytest.mark.parametrize("region", [None, "", "   "])
def test_a_blank_region_falls_back_to_the_numbers_geography(region):
    assert resolve(MIAMI, region=region).jurisdiction == "US-FL"


@pytest.mark.parametrize("region", ["Atlantis", "XX", "Fla."])
def test_a_region_that_names_no_state_falls_back_to_the_numbers_geography(region):
    assert resolve(MIAMI, region=region).jurisdiction == "US-FL"


def test_a_us_address_state_applies_to_a_non_us_number_as_well_as_its_country():
    assert resolve("+447400123456", region="FL").jurisdiction == "GB+US-FL"
    assert resolve("+14165550123", region="FL").jurisdiction == "CA+US-FL"  # a Toronto number


def test_a_toll_free_number_with_an_address_state_gets_that_states_rules():
    assert resolve("+18005550123", region="GA").jurisdiction == "US-GA"


@pytest.mark.parametrize("phone, jurisdiction", [("+15644565678", "US-WA"), ("+12022345678", "US-DC")])
def test_every_us_geography_with_a_state_maps_to_that_state(phone, jurisdiction):
    assert resolve(phone).jurisdiction == jurisdiction


@pytest.mark.parametrize("region", ["Florida", "US-FL"])
def test_a_region_spelled_as_a_state_name_or_iso_code_still_names_the_state(region):
    assert resolve(BALTIMORE, region=region).jurisdiction == "US-FL+US-MD"


# --------------------------------------------------------------------------------------------
# resolve: time zones
# --------------------------------------------------------------------------------------------


def test_a_number_that_rings_in_several_zones_resolves_to_all_of_them():
    info = resolve(AUSTRALIAN_MOBILE)
    assert info.country == "AU" and info.jurisdiction == "AU"
    assert {"Australia/Sydney", "Australia/Perth", "Australia/Lord_Howe"} <= set(info.timezones)
    assert list(info.timezones) == sorted(set(info.timezones))
    assert all(valid_timezone(zone) for zone in info.timezones)


def test_the_contacts_own_time_zone_wins_over_the_numbers_zones():
    assert resolve(AUSTRALIAN_MOBILE, timezone="Australia/Perth").timezones == ("Australia/Perth",)
    assert resolve(MIAMI, timezone="America/Chicago").timezones == ("America/Chicago",)


def test_the_contacts_own_time_zone_wins_over_the_campaign_zone():
    info = resolve(INTERNATIONAL_FREEPHONE, timezone="Asia/Tokyo", fallback_timezone="Europe/Paris")
    assert info.timezones == ("Asia/Tokyo",)


def test_the_campaign_zone_is_not_used_when_the_number_has_zones():
    assert resolve(MIAMI, fallback_timezone="Europe/Paris").timezones == ("America/New_York",)
    assert "Europe/Paris" not in resolve(AUSTRALIAN_MOBILE, fallback_timezone="Europe/Paris").timezones


def test_the_campaign_zone_is_used_when_the_number_has_no_zone():
    assert resolve(INTERNATIONAL_FREEPHONE, fallback_timezone="Europe/Paris").timezones == ("Europe/Paris",)


@pytest.mark.parametrize("fallback", [None, "", "Etc/Unknown", "Mars/Olympus_Mons"])
def test_a_number_with_no_zone_and_no_valid_campaign_zone_is_invalid(fallback):
    with pytest.raises(InvalidPhone, match="no time zone"):
        resolve(INTERNATIONAL_FREEPHONE, fallback_timezone=fallback)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Etc/Unknown", "EST5EDT/../..", "america/new york"])
def test_a_contact_time_zone_that_is_not_an_iana_zone_makes_the_contact_invalid(zone):
    with pytest.raises(InvalidPhone, match="unknown time zone"):
        resolve(MIAMI, timezone=zone)


# --------------------------------------------------------------------------------------------
# resolve: invalid input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone, reason",
    [
        (None, "unparseable"),
        ("", "unparseable"),
        ("call me", "unparseable"),
        ("3055550123", "unparseable"),  # no country code
        ("+999123", "unparseable"),  # no such country code
        ("+1305555012", "not a valid number"),  # one digit short
        ("+441632960000", "not a valid number"),  # UK drama number
        ("+1 305-555-0123", "not in E.164 form"),
        ("+1 (305) 555-0123", "not in E.164 form"),
        ("+13055550123 ", "not in E.164 form"),
        ("++13055550123", "not in E.164 form"),
        ("tel:+1-305-555-0123", "not in E.164 form"),
    ],
)
def test_a_number_that_must_never_be_dialed_raises_invalid_phone_with_the_reason(phone, reason):
    with pytest.raises(InvalidPhone, match=reason) as caught:
        resolve(phone)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("phone", [MIAMI, BALTIMORE, AUSTRALIAN_MOBILE, "+447400123456", "+33612345678"])
@pytest.mark.parametrize(
    "fmt",
    [
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.RFC3966,
    ],
)
def test_only_the_e164_form_of_a_valid_number_is_accepted(phone, fmt):
    assert resolve(phone).e164 == phone
    with pytest.raises(InvalidPhone):
        resolve(phonenumbers.format_number(phonenumbers.parse(phone, None), fmt))


@PROPERTY
@given(
    st.one_of(
        st.from_regex(r"\A\+[0-9]{1,15}\Z"),
        st.from_regex(r"\A\+1[2-9][0-9]{2}[2-9][0-9]{6}\Z"),  # NANP-shaped
        st.text(max_size=20),
    )
)
def test_resolve_either_rejects_a_number_or_gives_its_e164_form_and_valid_zones(phone):
    try:
        info = resolve(phone, fallback_timezone="Etc/UTC")
    except InvalidPhone as exc:
        assert str(exc)
        return
    assert info.e164 == phone
    assert info.timezones and all(valid_timezone(zone) for zone in info.timezones)
    assert info.jurisdiction == info.country or info.jurisdiction.startswith(f"{info.country}-")
    assert "+" not in info.jurisdiction, "without an address, only the number's own country or state applies"


# --------------------------------------------------------------------------------------------
# normalize: one identity for a number, whatever way it was written
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("2122301289", "+12122301289"),  # national, the default region (US)
        ("12123060672", "+12123060672"),  # national with the trunk prefix 1
        ("+1 212-587-9158", "+12125879158"),
        ("(212) 795-4220", "+12127954220"),
        ("212.795.4220", "+12127954220"),
        ("  +12127954220  ", "+12127954220"),
        ("tel:+1-212-795-4220", "+12127954220"),
        ("011 44 20 7946 0958", "+442079460958"),  # the US international prefix
        ("00 44 20 7946 0958", "+442079460958"),  # the international prefix almost everywhere else
        ("0044 (0)20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("212-795-4220 ext. 12", "+12127954220"),  # the extension's line is the number
    ],
)
def test_a_number_written_the_ways_people_paste_it_normalizes_to_its_e164(raw, e164):
    from include.campaigns.phones import normalize

    assert normalize(raw) == e164


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("call me", "unparseable"),
        ("N/A", "unparseable"),
        ("1212555012", "not_a_valid_number"),  # a NANP area code never starts with 1
        ("+1305555012", "too_short"),
        ("+999123456789", "unknown_country_code"),
        ("+441632960000", "not_a_valid_number"),  # UK drama number
        ("2" * 80, "too_long"),
    ],
)
def test_a_number_that_is_not_one_is_refused_with_a_named_reason(raw, reason):
    from include.campaigns.phones import normalize

    with pytest.raises(InvalidPhone) as caught:
        normalize(raw)
    assert caught.value.reason == reason
    assert str(caught.value)


def test_a_national_number_needs_a_default_region():
    from include.campaigns.phones import normalize

    with pytest.raises(InvalidPhone) as caught:
        normalize("(212) 795-4220", default_region=None)
    assert caught.value.reason == "no_country_code"
    assert normalize("+1 (212) 795-4220", default_region=None) == "+12127954220"


def test_a_national_number_is_read_in_the_default_region_given():
    from include.campaigns.phones import normalize

    assert normalize("020 7946 0958", default_region="GB") == "+442079460958"
    with pytest.raises(InvalidPhone):
        normalize("020 7946 0958")  # not a US number


REGIONS = ["US", "CA", "GB", "FR", "DE", "AU", "JP", "BR", "IN", "MX", "ES", "IT", "NL", "ZA"]
NUMBER_TYPES = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]


@st.composite
def valid_numbers(draw) -> tuple[str, phonenumbers.PhoneNumber]:
    """A valid number of some region, derived from that region's example by changing its last digits."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(NUMBER_TYPES)))
    national = str(example.national_number)
    tail = draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    candidate = phonenumbers.parse(f"+{example.country_code}{national[:-2]}{tail}", None)
    if not phonenumbers.is_valid_number(candidate):
        candidate = example
    return region, candidate


@st.composite
def written(draw, number: phonenumbers.PhoneNumber, region: str) -> str:
    fmt = draw(st.sampled_from(ALL_FORMATS))
    text = phonenumbers.format_number(number, fmt)
    if fmt == phonenumbers.PhoneNumberFormat.E164 and draw(st.booleans()):
        text = "00" + text[1:] if region != "US" else "011" + text[1:]
    # Separators between the digits, as a spreadsheet or a person types them.
    out = []
    for ch in text:
        out.append(ch)
        if ch.isdigit():
            out.append(draw(st.sampled_from(["", "", "", " ", "-", "."])))
    pad = st.sampled_from(["", " ", "\t"])
    return draw(pad) + "".join(out).rstrip("-.") + draw(pad)


@PROPERTY
@given(st.data())
def test_every_way_of_writing_a_valid_number_normalizes_to_the_same_e164(data):
    from include.campaigns.phones import normalize

    region, number = data.draw(valid_numbers())
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    text = data.draw(written(number, region))
    assert normalize(text, default_region=region) == e164
    assert normalize(e164, default_region=None) == e164
    assert resolve(e164, fallback_timezone="Etc/UTC").e164 == e164


@PROPERTY
@given(
    st.one_of(
        st.text(max_size=40), st.from_regex(r"\A[+0-9 ()\-.]{0,24}\Z"), st.none(), st.integers(), st.binary(max_size=10)
    ),
    st.sampled_from(["US", "GB", None]),
)
def test_normalize_gives_a_valid_e164_or_refuses_with_a_named_reason_and_never_crashes(raw, region):
    from include.campaigns.phones import E164_SHAPE, REASONS, normalize

    try:
        e164 = normalize(raw, default_region=region)
    except InvalidPhone as exc:
        assert exc.reason in REASONS and str(exc)
        return
    assert E164_SHAPE.fullmatch(e164)
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    assert normalize(e164, default_region=None) == e164  # idempotent


@PROPERTY
@given(
    st.one_of(
        st.from_regex(r"\A(\+1|1)?[0-9]{10}\Z"),
        st.from_regex(r"\A[+1]?[ (]?[0-9]{3}[) .-]*[0-9]{3}[ .-]?[0-9]{4}\Z"),
        st.from_regex(r"\A\s*[0-9 ().+\-\t]{8,16}\s*\Z"),
    ),
    st.sampled_from(["US", "CA", "GB", None]),
)
def test_the_imports_fast_path_for_north_american_numbers_agrees_with_normalize(raw, region):
    from include.campaigns.blacklist_import import _normalizer
    from include.campaigns.phones import normalize

    try:
        expected = normalize(raw, default_region=region)
    except InvalidPhone as exc:
        expected = exc.reason
    try:
        got = _normalizer(region)(raw)
    except InvalidPhone as exc:
        got = exc.reason
    assert got == expected
