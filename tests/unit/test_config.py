"""The campaign config document: defaults, and every problem reported at once."""

from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from include.campaigns.calling_window import CallingWindow, LockoutRule, WindowPolicy
from include.campaigns.config import (
    DEFAULT_RETRY_DELAYS_S,
    KNOWN_KEYS,
    CampaignConfig,
    ConfigError,
    parse_config,
)


def problems_of(raw) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


# --------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}])
def test_an_empty_config_gives_the_defaults(raw):
    config = parse_config(raw)
    assert config == CampaignConfig()
    assert config.policy == WindowPolicy(
        window=CallingWindow(time(9), time(20), frozenset(range(7))),
        blackout_dates=frozenset(),
        skip_public_holidays=True,
        holiday_overrides=frozenset(),
    )
    assert config.max_attempts == 3
    assert config.retry_delays_s == {
        "busy": 1800,
        "no_answer": 7200,
        "failed": 3600,
        "voicemail": 14400,
        "abandoned": 14400,
        "machine": 14400,
    }
    assert config.lockouts == {} and config.requires_consent is False
    assert config.max_attempts_per_24h is None
    assert config.expiry_grace_s == 300
    assert config.expected_duration_s is None
    assert config.audio == () and config.ivr_flow is None and config.caller_id is None


def test_defaults_are_not_shared_between_configs():
    first = parse_config({})
    first.retry_delays_s["busy"] = 1
    assert parse_config({}).retry_delays_s == DEFAULT_RETRY_DELAYS_S
    assert DEFAULT_RETRY_DELAYS_S["busy"] == 1800


def test_a_full_valid_config_is_parsed():
    config = parse_config(
        {
            "calling_window": {"start": "10:00", "end": "18:30", "days": ["Monday", "tue", "WED"]},
            "max_attempts": 5,
            "retry_delays_s": {"busy": 60, "voicemail": 0},
            "max_attempts_per_24h": 2,
            "blackout_dates": ["2026-12-24", "2026-12-31"],
            "skip_public_holidays": False,
            "holiday_overrides": ["2026-11-26"],
            "caller_id": "+15555550100",
            "ivr_flow": {"entry": "hello", "nodes": {"hello": {}}},
            "audio": ["prompts/hello.wav", "s3://bucket/bye.wav"],
            "dial_queue": "dial-tasks.fifo",
            "notification_topic": "campaign-events",
            "expiry_grace_s": 0,
            "expected_duration_s": 90,
        }
    )
    assert config.policy == WindowPolicy(
        window=CallingWindow(time(10), time(18, 30), frozenset({0, 1, 2})),
        blackout_dates=frozenset({date(2026, 12, 24), date(2026, 12, 31)}),
        skip_public_holidays=False,
        holiday_overrides=frozenset({date(2026, 11, 26)}),
    )
    assert config.max_attempts == 5
    assert config.retry_delays_s == {**DEFAULT_RETRY_DELAYS_S, "busy": 60, "voicemail": 0}
    assert config.max_attempts_per_24h == 2
    assert config.audio == ("prompts/hello.wav", "s3://bucket/bye.wav")
    assert (config.caller_id, config.dial_queue, config.notification_topic) == (
        "+15555550100",
        "dial-tasks.fifo",
        "campaign-events",
    )
    assert (config.expiry_grace_s, config.expected_duration_s) == (0, 90)


# --------------------------------------------------------------------------------------------
# Every problem at once
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [[], "config", 3, True])
def test_a_config_that_is_not_an_object_is_one_problem(raw):
    assert problems_of(raw) == [f"config must be a JSON object, got {type(raw).__name__}"]


# One bad value per key, and the words its problem must contain.
BAD_SETTINGS = {
    "calling_window": ({"start": "25:00"}, "calling_window"),
    "max_attempts": (0, "max_attempts"),
    "retry_delays_s": ({"busy": -1}, "retry_delays_s.busy"),
    "max_attempts_per_24h": (True, "max_attempts_per_24h"),
    "blackout_dates": (["2026-02-30"], "blackout_dates"),
    "skip_public_holidays": ("yes", "skip_public_holidays"),
    "holiday_overrides": ("2026-11-26", "holiday_overrides"),
    "ivr_flow": (["hello"], "ivr_flow"),
    "audio": ("hello.wav", "audio"),
    "expiry_grace_s": (-1, "expiry_grace_s"),
    "expected_duration_s": (1.5, "expected_duration_s"),
    "dispatch_shards": (0, "dispatch_shards"),
    "lockouts": ({"abandoned": {"hours": -1}}, "lockouts.abandoned.hours"),
    "requires_consent": ("yes", "requires_consent"),
    "colour": ("blue", "unknown keys: colour"),
}
GOOD_SETTINGS = {
    "calling_window": {"start": "08:00", "end": "12:00"},
    "max_attempts": 4,
    "retry_delays_s": {"no_answer": 60},
    "max_attempts_per_24h": 2,
    "blackout_dates": ["2026-12-24"],
    "skip_public_holidays": False,
    "holiday_overrides": [],
    "ivr_flow": {"entry": "a", "nodes": {"a": {}}},
    "audio": ["a.wav"],
    "expiry_grace_s": 0,
    "expected_duration_s": 30,
    "caller_id": "+15555550100",
    "dispatch_shards": 2,
    "max_call_duration_s": 600,
    "lockouts": {"abandoned": {"hours": 96}, "machine": {"rest_of_local_day": True}},
    "requires_consent": True,
}


def test_several_bad_settings_give_one_problem_each_in_a_single_error():
    problems = problems_of({key: bad for key, (bad, _) in BAD_SETTINGS.items()})
    assert len(problems) == len(BAD_SETTINGS)
    for key, (_, words) in BAD_SETTINGS.items():
        assert sum(words in problem for problem in problems) >= 1, f"no problem names {key}"


@settings(max_examples=200, deadline=None)
@given(
    bad=st.sets(st.sampled_from(sorted(BAD_SETTINGS)), min_size=1), good=st.sets(st.sampled_from(sorted(GOOD_SETTINGS)))
)
def test_each_bad_setting_is_reported_once_whatever_else_the_config_holds(bad, good):
    raw = {key: GOOD_SETTINGS[key] for key in good}
    raw.update({key: BAD_SETTINGS[key][0] for key in bad})
    problems = problems_of(raw)
    assert len(problems) == len(bad)
    for key in bad:
        assert any(BAD_SETTINGS[key][1] in problem for problem in problems)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.sampled_from(sorted(GOOD_SETTINGS))))
def test_any_combination_of_good_settings_parses(keys):
    parse_config({key: GOOD_SETTINGS[key] for key in keys})


def test_dispatch_shards_are_bounded():
    assert parse_config({"dispatch_shards": 16}).dispatch_shards == 16
    assert problems_of({"dispatch_shards": 17}) == ["config.dispatch_shards must be an integer from 1 to 16, got 17"]


# Every number's documented range (README, "Campaign config"): the ends are accepted, one past
# either end is refused with the range in the reason.
RANGE_CASES = [
    ("max_attempts", 1, 100),
    ("max_attempts_per_24h", 1, 100),
    ("expiry_grace_s", 0, 86400),
    ("expected_duration_s", 1, 366 * 86400),
    ("dispatch_shards", 1, 16),
]


@pytest.mark.parametrize("key, low, high", RANGE_CASES)
def test_every_number_is_accepted_at_the_ends_of_its_range_and_refused_past_them(key, low, high):
    assert getattr(parse_config({key: low}), key) == low
    assert getattr(parse_config({key: high}), key) == high
    for value in (low - 1, high + 1):
        assert problems_of({key: value}) == [f"config.{key} must be an integer from {low} to {high}, got {value}"]


@pytest.mark.parametrize(
    "key, value",
    [
        ("retry_delays_s", {"busy": 3_000_000_000}),
        ("expiry_grace_s", 10**20),
        ("max_attempts_per_24h", 3_000_000_000),
        ("max_attempts", 10**9),
    ],
)
def test_huge_numbers_that_would_fail_every_try_are_refused_at_validation(key, value):
    [problem] = problems_of({key: value})
    assert "must be an integer from" in problem


@pytest.mark.parametrize("seconds", [0, 30 * 86400])
def test_a_retry_delay_may_be_zero_up_to_thirty_days(seconds):
    assert parse_config({"retry_delays_s": {"busy": seconds}}).retry_delays_s["busy"] == seconds


def test_the_longest_call_is_bounded():
    assert parse_config({}).max_call_duration_s == 3600
    assert parse_config({"max_call_duration_s": 14400}).max_call_duration_s == 14400
    for bad in (14401, 0):
        assert problems_of({"max_call_duration_s": bad}) == [
            f"config.max_call_duration_s must be an integer from 1 to 14400, got {bad}"
        ]


def test_all_unknown_keys_are_named_in_one_problem_in_sorted_order():
    assert problems_of({"zeta": 1, "alpha": 2, "max_attempts": 3}) == ["config has unknown keys: alpha, zeta"]


def test_every_documented_key_is_known():
    assert set(GOOD_SETTINGS) | {"dial_queue", "notification_topic"} == KNOWN_KEYS


# --------------------------------------------------------------------------------------------
# Retry delays
# --------------------------------------------------------------------------------------------


def test_retry_delays_override_only_the_outcomes_they_name():
    config = parse_config({"retry_delays_s": {"failed": 10}})
    assert config.retry_delays_s == {**DEFAULT_RETRY_DELAYS_S, "failed": 10}


def test_a_zero_retry_delay_means_retry_at_once():
    assert parse_config({"retry_delays_s": {"busy": 0}}).retry_delays_s["busy"] == 0


@pytest.mark.parametrize("seconds", [-1, 1.5, "60", True, None, [60], 30 * 86400 + 1])
def test_a_retry_delay_must_be_an_integer_from_zero_to_thirty_days(seconds):
    assert problems_of({"retry_delays_s": {"no_answer": seconds}}) == [
        f"config.retry_delays_s.no_answer must be an integer from 0 to 2592000 (seconds), got {seconds!r}"
    ]


@pytest.mark.parametrize("outcome", ["answered", "converted", "opted_out", "hung_up"])
def test_only_retryable_outcomes_can_have_a_retry_delay(outcome):
    [problem] = problems_of({"retry_delays_s": {outcome: 60}})
    assert f"{outcome!r} is not a retryable outcome" in problem


def test_every_bad_retry_delay_is_reported():
    problems = problems_of({"retry_delays_s": {"busy": -1, "answered": 1, "voicemail": "x", "failed": 5}})
    assert len(problems) == 3


@pytest.mark.parametrize("raw", ["60", 60, ["busy", 60]])
def test_retry_delays_must_be_an_object(raw):
    assert problems_of({"retry_delays_s": raw}) == ["config.retry_delays_s must map outcomes to seconds"]


# --------------------------------------------------------------------------------------------
# Calling window
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "window, words",
    [
        ({"start": "18:00", "end": "09:00"}, "end 09:00 is not after its start 18:00"),
        ({"start": "09:00", "end": "09:00"}, "is not after its start"),
        ({"start": "9am"}, "'9am' is not a HH:MM time"),
        ({"end": "24:00"}, "'24:00' is not a HH:MM time"),
        ({"start": "09:00:00"}, "is not a HH:MM time"),
        ({"start": None}, "None is not a HH:MM time"),
        ({"start": 900}, "900 is not a HH:MM time"),
        ({"days": []}, "non-empty subset"),
        ({"days": ["mon", "funday"]}, "non-empty subset"),
        ({"days": "mon"}, "days must be"),
    ],
)
def test_a_bad_calling_window_is_a_problem_naming_the_window(window, words):
    [problem] = problems_of({"calling_window": window})
    assert problem.startswith("config.calling_window: ")
    assert words in problem


@pytest.mark.parametrize("raw", ["09:00-20:00", ["09:00", "20:00"], 9])
def test_a_calling_window_must_be_an_object(raw):
    assert problems_of({"calling_window": raw}) == ["config.calling_window must be an object with start, end and days"]


@pytest.mark.parametrize(
    "days, expected",
    [
        (["mon", "fri"], {0, 4}),
        (["Monday", "FRIDAY", "sun"], {0, 4, 6}),
        (["sat", "sat"], {5}),
    ],
)
def test_calling_window_days_are_case_insensitive_names_or_abbreviations(days, expected):
    assert parse_config({"calling_window": {"days": days}}).policy.window.days == frozenset(expected)


def test_a_calling_window_with_only_a_start_keeps_the_default_end_and_days():
    assert parse_config({"calling_window": {"start": "10:15"}}).policy.window == CallingWindow(
        time(10, 15), time(20), frozenset(range(7))
    )


@pytest.mark.parametrize("days", [None, 5])
def test_calling_window_days_that_are_not_a_list_are_a_problem_not_a_crash(days):
    [problem] = problems_of({"calling_window": {"days": days}})
    assert "days" in problem


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["blackout_dates", "holiday_overrides"])
def test_every_bad_date_is_named(key):
    problems = problems_of({key: ["2026-12-24", "2026-02-30", "tomorrow", "12/25/2026"]})
    assert problems == [
        f"config.{key} has '2026-02-30', which is not a YYYY-MM-DD date",
        f"config.{key} has 'tomorrow', which is not a YYYY-MM-DD date",
        f"config.{key} has '12/25/2026', which is not a YYYY-MM-DD date",
    ]


@pytest.mark.parametrize("key", ["blackout_dates", "holiday_overrides"])
@pytest.mark.parametrize("raw", ["2026-12-24", {"date": "2026-12-24"}, 20261224])
def test_dates_must_be_a_list(key, raw):
    assert problems_of({key: raw}) == [f"config.{key} must be a list of at most 1000 YYYY-MM-DD dates"]


def test_dates_are_parsed_into_sets_of_dates():
    policy = parse_config({"blackout_dates": ["2026-12-24", "2026-12-24"], "holiday_overrides": ["2026-07-04"]}).policy
    assert policy.blackout_dates == frozenset({date(2026, 12, 24)})
    assert policy.holiday_overrides == frozenset({date(2026, 7, 4)})


# --------------------------------------------------------------------------------------------
# Counts and flags
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["max_attempts", "max_attempts_per_24h", "expected_duration_s"])
@pytest.mark.parametrize("value", [0, -3, True, False, 2.0, "3"])
def test_attempt_counts_and_durations_must_be_positive_integers(key, value):
    [problem] = problems_of({key: value})
    assert problem.startswith(f"config.{key} must be an integer from 1 to ") and problem.endswith(f"got {value!r}")


@pytest.mark.parametrize("value", [-1, True, 1.5, "300"])
def test_expiry_grace_must_be_an_integer_up_to_a_day(value):
    assert problems_of({"expiry_grace_s": value}) == [
        f"config.expiry_grace_s must be an integer from 0 to 86400, got {value!r}"
    ]


@pytest.mark.parametrize("key", ["max_attempts_per_24h", "expected_duration_s"])
def test_optional_limits_may_be_null(key):
    assert getattr(parse_config({key: None}), key) is None


@pytest.mark.parametrize("key, default", [("max_attempts", 3), ("expiry_grace_s", 300)])
def test_a_null_required_limit_is_either_the_default_or_a_problem(key, default):
    try:
        config = parse_config({key: None})
    except ConfigError as exc:
        assert any(key in problem for problem in exc.problems)
    else:
        assert getattr(config, key) == default


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "true"])
def test_skip_public_holidays_must_be_true_or_false(value):
    assert problems_of({"skip_public_holidays": value}) == ["config.skip_public_holidays must be true or false"]


@pytest.mark.parametrize("audio", ["hello.wav", ["hello.wav", ""], ["hello.wav", 3], {"a": "b"}])
def test_audio_must_be_a_list_of_non_empty_keys(audio):
    assert problems_of({"audio": audio}) == [
        "config.audio must be a list of at most 100 S3 keys or s3:// URIs of 1 to 1024 characters"
    ]


@pytest.mark.parametrize("audio", [["a.wav"] * 101, ["k" * 1025]])
def test_audio_is_bounded_in_count_and_length(audio):
    assert problems_of({"audio": audio})[0].startswith("config.audio must be a list of at most 100")


@pytest.mark.parametrize("key", ["dial_queue", "notification_topic"])
@pytest.mark.parametrize("value", [42, "", "   ", "q" * 1025, ["a"], {"url": "x"}])
def test_a_destination_must_be_a_non_empty_bounded_string(key, value):
    [problem] = problems_of({key: value})
    assert problem.startswith(f"config.{key} must be ") and "of 1 to 1024 characters" in problem


@pytest.mark.parametrize(
    "key, value",
    [
        ("dial_queue", "campaign-dial-tasks"),
        ("notification_topic", "arn:aws:sns:us-east-1:000000000000:campaign-events"),
    ],
)
def test_a_destination_override_is_kept_for_the_tasks(key, value):
    assert getattr(parse_config({key: value}), key) == value


@pytest.mark.parametrize("value", ["12125550100", "+0123", "+1212555010012345", 12125550100, "+1 212 555 0100"])
def test_a_caller_id_must_be_an_e164_number(value):
    [problem] = problems_of({"caller_id": value})
    assert problem.startswith("config.caller_id must be an E.164 number")


def test_dates_are_bounded_in_count():
    [problem] = problems_of({"blackout_dates": ["2026-12-24"] * 1001})
    assert problem == "config.blackout_dates must be a list of at most 1000 YYYY-MM-DD dates"


@pytest.mark.parametrize("flow", [["a"], "a", 1])
def test_an_ivr_flow_must_be_an_object(flow):
    assert problems_of({"ivr_flow": flow}) == ["config.ivr_flow must be an object"]


@pytest.mark.parametrize("days", [["monkey"], ["mo"], ["Mon", "funday"]])
def test_day_names_must_be_real_days(days):
    assert any("calling_window" in p for p in problems_of({"calling_window": {"days": days}}))


def test_full_day_names_are_accepted():
    config = parse_config({"calling_window": {"days": ["Monday", "sat"]}})
    assert config.policy.window.days == frozenset({0, 5})


@pytest.mark.parametrize("value", [[], "busy=10"])
def test_retry_delays_of_the_wrong_type_are_a_problem_even_when_empty(value):
    assert problems_of({"retry_delays_s": value}) == ["config.retry_delays_s must map outcomes to seconds"]


@pytest.mark.parametrize("value", ["20261224", 20261224, "2026W521", "2026-12-24T00:00"])
def test_dates_must_be_written_yyyy_mm_dd(value):
    assert problems_of({"blackout_dates": [value]}) == [
        f"config.blackout_dates has {value!r}, which is not a YYYY-MM-DD date"
    ]


# --------------------------------------------------------------------------------------------
# Lockouts and consent
# --------------------------------------------------------------------------------------------


def test_a_campaign_lockout_names_an_outcome_with_a_lockout_and_its_hours_or_day():
    config = parse_config(
        {"lockouts": {"abandoned": {"hours": 96}, "machine": {"hours": 2, "rest_of_local_day": True}}}
    )
    assert config.lockouts == {"abandoned": LockoutRule(96, False), "machine": LockoutRule(2, True)}
    assert problems_of({"lockouts": {"busy": {"hours": 1}}}) == [
        "config.lockouts: 'busy' is not an outcome with a lockout ('abandoned', 'machine')"
    ]
    assert problems_of({"lockouts": {"abandoned": {"days": 1}}})[0].startswith("config.lockouts.abandoned must be")
    assert problems_of({"lockouts": {"abandoned": {"hours": 8785}}}) == [
        "config.lockouts.abandoned.hours must be an integer from 0 to 8784, got 8785"
    ]
    assert problems_of({"lockouts": {"machine": {"rest_of_local_day": 1}}}) == [
        "config.lockouts.machine.rest_of_local_day must be true or false"
    ]
    assert problems_of({"lockouts": []})[0].startswith("config.lockouts must be")


def test_requires_consent_is_true_or_false():
    assert parse_config({"requires_consent": True}).requires_consent is True
    assert problems_of({"requires_consent": "yes"}) == ["config.requires_consent must be true or false"]


# --------------------------------------------------------------------------------------------
# The model: strict, one source for the checks, the JSON Schema and the docs
# --------------------------------------------------------------------------------------------


def test_the_config_document_is_a_strict_pydantic_model_that_forbids_unknown_keys():
    from pydantic import BaseModel

    from include.campaigns.config import ConfigDocument

    assert issubclass(ConfigDocument, BaseModel)
    assert ConfigDocument.model_config["extra"] == "forbid"
    assert set(ConfigDocument.model_fields) == KNOWN_KEYS


def test_the_json_schema_carries_every_key_its_default_and_its_range():
    from include.campaigns.config import RANGES, json_schema

    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == KNOWN_KEYS
    for key in ("max_attempts", "expiry_grace_s", "dispatch_shards", "max_call_duration_s"):
        prop = schema["properties"][key]
        assert (prop["minimum"], prop["maximum"]) == RANGES[key]
        assert prop["default"] == getattr(CampaignConfig(), key)
    optional = schema["properties"]["max_attempts_per_24h"]["anyOf"]
    assert {"type": "null"} in optional
    assert {"type": "integer", "minimum": 1, "maximum": 100} in optional
    assert all(prop.get("description") for prop in schema["properties"].values())


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(sorted(GOOD_SETTINGS))))
def test_every_good_config_is_valid_against_the_published_json_schema(keys):
    import jsonschema

    from include.campaigns.config import json_schema

    jsonschema.validate(
        {key: GOOD_SETTINGS[key] for key in keys}, json_schema(), format_checker=jsonschema.FormatChecker()
    )


@pytest.mark.parametrize("key", sorted(BAD_SETTINGS))
def test_the_published_json_schema_refuses_what_the_model_refuses(key):
    import jsonschema

    from include.campaigns.config import json_schema

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({key: BAD_SETTINGS[key][0]}, json_schema(), format_checker=jsonschema.FormatChecker())


def test_the_config_docs_are_generated_from_the_model_and_not_stale():
    from include.campaigns.config import CONFIG_DOC, CONFIG_SCHEMA_DOC, render_docs

    markdown, schema = render_docs()
    assert CONFIG_DOC.read_text() == markdown, "docs/config.md is stale: run `make config-doc`"
    assert CONFIG_SCHEMA_DOC.read_text() == schema, "docs/config.schema.json is stale: run `make config-doc`"
    for key in KNOWN_KEYS:
        assert f"`{key}`" in markdown


def test_parsing_a_config_is_fast_enough_for_every_task_and_poke():
    import time as clock

    raw = {**GOOD_SETTINGS, "dial_queue": "dial-tasks", "notification_topic": "campaign-events"}
    parse_config(raw)
    started = clock.perf_counter()
    for _ in range(1000):
        parse_config(raw)
    per_parse = (clock.perf_counter() - started) / 1000
    assert per_parse < 0.002, f"{per_parse * 1e6:.0f} µs per parse"


@pytest.mark.parametrize("days", [["Monday", "FRIDAY", "sun"], ["sat"], ["mon", "funday"], ["mo"], []])
def test_the_published_json_schema_reads_day_names_as_the_model_does(days):
    import jsonschema

    from include.campaigns.config import json_schema

    raw = {"calling_window": {"days": days}}
    try:
        parse_config(raw)
        accepted = True
    except ConfigError:
        accepted = False
    assert jsonschema.Draft202012Validator(json_schema()).is_valid(raw) == accepted


def test_a_calling_window_names_only_start_end_and_days():
    assert problems_of({"calling_window": {"start": "09:00", "timezone": "Europe/Paris"}}) == [
        "config.calling_window has unknown keys: timezone (it has start, end and days)"
    ]
