"""The campaign's ``config`` document: parsed once, with every problem collected."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from include.campaigns.calling_window import CallingWindow, LockoutRule, WindowPolicy

# The outcomes a dialer reports, and what each means for the contact. 'abandoned' (answered, no
# agent or message in time) and 'machine' (answering-machine detection) came with version 2 of
# the dial-task contract; each retries no sooner than its lockout allows.
FINAL_OUTCOMES = ("answered", "converted")
RETRY_OUTCOMES = ("busy", "no_answer", "failed", "voicemail", "abandoned", "machine")
LOCKOUT_OUTCOMES = ("abandoned", "machine")
OPT_OUT_OUTCOME = "opted_out"
OUTCOMES = FINAL_OUTCOMES + RETRY_OUTCOMES + (OPT_OUT_OUTCOME,)

DEFAULT_RETRY_DELAYS_S = {"busy": 30 * 60, "no_answer": 2 * 3600, "failed": 3600, "voicemail": 4 * 3600,
                          "abandoned": 4 * 3600, "machine": 4 * 3600}
KNOWN_KEYS = {
    "calling_window", "max_attempts", "retry_delays_s", "max_attempts_per_24h", "blackout_dates",
    "skip_public_holidays", "holiday_overrides", "caller_id", "ivr_flow", "audio", "dial_queue",
    "notification_topic", "expiry_grace_s", "expected_duration_s", "dispatch_shards", "max_call_duration_s",
    "lockouts", "requires_consent",
}
# Mapped dispatch tasks per run; more than the workers or PostgreSQL cores could serve only adds
# contention on the same index pages.
MAX_DISPATCH_SHARDS = 16
DAY_S = 86400
# Every number's range, inclusive. A value outside it is refused at validation rather than failing
# on every try later (a delay past Python's datetime range, a count no dialer could honour).
RANGES = {
    "max_attempts": (1, 100),
    "max_attempts_per_24h": (1, 100),
    "retry_delays_s": (0, 30 * DAY_S),
    "expiry_grace_s": (0, DAY_S),
    "expected_duration_s": (1, 366 * DAY_S),
    "dispatch_shards": (1, MAX_DISPATCH_SHARDS),
    # The longest call a campaign expects: a dial task with no result is expired only once a call
    # that started at its not_after could have ended, so a contact still talking is never redialed.
    "max_call_duration_s": (1, 4 * 3600),
    # A campaign's own lockout after an outcome, on top of the law's.
    "lockouts": (0, 366 * 24),
}
# Lengths of the strings that name things: an SQS queue URL or name, an SNS topic ARN, an S3 key
# or URI (S3 keys are at most 1024 bytes).
NAME_MAX = 1024
MAX_AUDIO = 100
MAX_DATES = 1000
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CampaignConfig:
    policy: WindowPolicy = WindowPolicy()
    max_attempts: int = 3
    retry_delays_s: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RETRY_DELAYS_S))
    max_attempts_per_24h: int | None = None
    caller_id: str | None = None
    ivr_flow: dict | None = None
    audio: tuple[str, ...] = ()
    dial_queue: str | None = None
    notification_topic: str | None = None
    expiry_grace_s: int = 300
    expected_duration_s: int | None = None
    dispatch_shards: int = 1
    max_call_duration_s: int = 3600
    # Outcome -> the campaign's own lockout; it adds to the jurisdictions', never replaces them.
    lockouts: dict[str, LockoutRule] = field(default_factory=dict)
    requires_consent: bool = False


def _in_range(value, key: str) -> bool:
    low, high = RANGES[key]
    return not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


def _range_text(key: str) -> str:
    low, high = RANGES[key]
    return f"an integer from {low} to {high}"


def _bounded_int(raw: dict, key: str, default, problems: list[str]):
    value = raw.get(key, default)
    if value is None and default is None:
        return None  # an optional limit left unset
    if not _in_range(value, key):
        problems.append(f"config.{key} must be {_range_text(key)}, got {_shown(value)}")
        return default
    return value


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _name(raw: dict, key: str, what: str, problems: list[str]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > NAME_MAX:
        problems.append(f"config.{key} must be {what} of 1 to {NAME_MAX} characters, got {_shown(value)}")
        return None
    return value


def _dates(raw: dict, key: str, problems: list[str]) -> frozenset[date]:
    values = raw.get(key)
    if values is None:
        return frozenset()
    if not isinstance(values, list) or len(values) > MAX_DATES:
        problems.append(f"config.{key} must be a list of at most {MAX_DATES} YYYY-MM-DD dates")
        return frozenset()
    parsed = set()
    for value in values:
        try:
            if not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
                raise ValueError
            parsed.add(date.fromisoformat(value))
        except ValueError:
            problems.append(f"config.{key} has {value!r}, which is not a YYYY-MM-DD date")
    return frozenset(parsed)


def _lockouts(raw: dict, problems: list[str]) -> dict[str, LockoutRule]:
    value = raw.get("lockouts")
    if value is None:
        return {}
    shape = (f"an object mapping {' or '.join(LOCKOUT_OUTCOMES)} to {{\"hours\": {_range_text('lockouts')}, "
             f"\"rest_of_local_day\": true or false}}")
    if not isinstance(value, dict):
        problems.append(f"config.lockouts must be {shape}")
        return {}
    rules = {}
    for outcome, rule in value.items():
        if outcome not in LOCKOUT_OUTCOMES:
            problems.append(f"config.lockouts: {outcome!r} is not an outcome with a lockout {LOCKOUT_OUTCOMES}")
            continue
        if not isinstance(rule, dict) or set(rule) - {"hours", "rest_of_local_day"} or not rule:
            problems.append(f"config.lockouts.{outcome} must be {{\"hours\": ..., \"rest_of_local_day\": ...}}, "
                            f"got {_shown(rule)}")
            continue
        hours, rest = rule.get("hours", 0), rule.get("rest_of_local_day", False)
        if not _in_range(hours, "lockouts"):
            problems.append(f"config.lockouts.{outcome}.hours must be {_range_text('lockouts')}, got {_shown(hours)}")
        elif not isinstance(rest, bool):
            problems.append(f"config.lockouts.{outcome}.rest_of_local_day must be true or false")
        else:
            rules[outcome] = LockoutRule(hours, rest)
    return rules


def parse_config(raw: object) -> CampaignConfig:
    """Parse a campaign config; raise ConfigError naming every problem at once."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"config must be a JSON object, got {type(raw).__name__}"])
    problems: list[str] = []
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        problems.append(f"config has unknown keys: {', '.join(unknown)}")

    window = CallingWindow()
    if raw.get("calling_window") is not None and not isinstance(raw["calling_window"], dict):
        problems.append("config.calling_window must be an object with start, end and days")
    else:
        try:
            window = CallingWindow.from_config(raw.get("calling_window"))
        except ValueError as exc:
            problems.append(f"config.calling_window: {exc}")

    delays = dict(DEFAULT_RETRY_DELAYS_S)
    raw_delays = raw.get("retry_delays_s")
    raw_delays = {} if raw_delays is None else raw_delays
    if not isinstance(raw_delays, dict):
        problems.append("config.retry_delays_s must map outcomes to seconds")
    else:
        for outcome, seconds in raw_delays.items():
            if outcome not in RETRY_OUTCOMES:
                problems.append(f"config.retry_delays_s: {outcome!r} is not a retryable outcome {RETRY_OUTCOMES}")
            elif not _in_range(seconds, "retry_delays_s"):
                problems.append(f"config.retry_delays_s.{outcome} must be {_range_text('retry_delays_s')} "
                                f"(seconds), got {_shown(seconds)}")
            else:
                delays[outcome] = seconds

    skip_holidays = raw.get("skip_public_holidays", True)
    if not isinstance(skip_holidays, bool):
        problems.append("config.skip_public_holidays must be true or false")
        skip_holidays = True

    audio = raw.get("audio") or []
    if (not isinstance(audio, list) or len(audio) > MAX_AUDIO
            or not all(isinstance(a, str) and a and len(a) <= NAME_MAX for a in audio)):
        problems.append(f"config.audio must be a list of at most {MAX_AUDIO} S3 keys or s3:// URIs "
                        f"of 1 to {NAME_MAX} characters")
        audio = []
    ivr_flow = raw.get("ivr_flow")
    if ivr_flow is not None and not isinstance(ivr_flow, dict):
        problems.append("config.ivr_flow must be an object")
        ivr_flow = None

    caller_id = raw.get("caller_id")
    if caller_id is not None and not (isinstance(caller_id, str) and E164.fullmatch(caller_id)):
        problems.append(f"config.caller_id must be an E.164 number such as +12125550100, got {_shown(caller_id)}")
        caller_id = None

    requires_consent = raw.get("requires_consent", False)
    if not isinstance(requires_consent, bool):
        problems.append("config.requires_consent must be true or false")
        requires_consent = False

    config = CampaignConfig(
        policy=WindowPolicy(
            window=window,
            blackout_dates=_dates(raw, "blackout_dates", problems),
            skip_public_holidays=skip_holidays,
            holiday_overrides=_dates(raw, "holiday_overrides", problems),
        ),
        max_attempts=_bounded_int(raw, "max_attempts", 3, problems),
        retry_delays_s=delays,
        max_attempts_per_24h=_bounded_int(raw, "max_attempts_per_24h", None, problems),
        caller_id=caller_id,
        ivr_flow=ivr_flow,
        audio=tuple(audio),
        dial_queue=_name(raw, "dial_queue", "an SQS queue name or URL", problems),
        notification_topic=_name(raw, "notification_topic", "an SNS topic ARN", problems),
        expiry_grace_s=_bounded_int(raw, "expiry_grace_s", 300, problems),
        expected_duration_s=_bounded_int(raw, "expected_duration_s", None, problems),
        dispatch_shards=_bounded_int(raw, "dispatch_shards", 1, problems),
        max_call_duration_s=_bounded_int(raw, "max_call_duration_s", 3600, problems),
        lockouts=_lockouts(raw, problems),
        requires_consent=requires_consent,
    )
    if problems:
        raise ConfigError(problems)
    return config
