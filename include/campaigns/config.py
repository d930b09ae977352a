"""The campaign's ``config`` document: parsed once, with every problem collected."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from include.campaigns.calling_window import CallingWindow, WindowPolicy

# The outcomes a dialer reports, and what each means for the contact.
FINAL_OUTCOMES = ("answered", "converted")
RETRY_OUTCOMES = ("busy", "no_answer", "failed", "voicemail")
OPT_OUT_OUTCOME = "opted_out"
OUTCOMES = FINAL_OUTCOMES + RETRY_OUTCOMES + (OPT_OUT_OUTCOME,)

DEFAULT_RETRY_DELAYS_S = {"busy": 30 * 60, "no_answer": 2 * 3600, "failed": 3600, "voicemail": 4 * 3600}
KNOWN_KEYS = {
    "calling_window", "max_attempts", "retry_delays_s", "max_attempts_per_24h", "blackout_dates",
    "skip_public_holidays", "holiday_overrides", "caller_id", "ivr_flow", "audio", "dial_queue",
    "notification_topic", "expiry_grace_s", "expected_duration_s", "dispatch_shards", "max_call_duration_s",
}
# Mapped dispatch tasks per run; more than the workers or PostgreSQL cores could serve only adds
# contention on the same index pages.
MAX_DISPATCH_SHARDS = 16
# The longest call a campaign expects: a dial task with no result is expired only once a call that
# started at its not_after could have ended, so a contact still talking is never dialed again.
MAX_CALL_DURATION_S = 4 * 3600


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


def _positive_int(raw: dict, key: str, default, problems: list[str], *, allow_zero: bool = False):
    value = raw.get(key, default)
    if value is None and default is None:
        return None  # an optional limit left unset
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        problems.append(f"config.{key} must be a {'non-negative' if allow_zero else 'positive'} integer, got {value!r}")
        return default
    return value


def _dates(raw: dict, key: str, problems: list[str]) -> frozenset[date]:
    values = raw.get(key)
    if values is None:
        return frozenset()
    if not isinstance(values, list):
        problems.append(f"config.{key} must be a list of YYYY-MM-DD dates")
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
            elif isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
                problems.append(f"config.retry_delays_s.{outcome} must be a non-negative integer")
            else:
                delays[outcome] = seconds

    skip_holidays = raw.get("skip_public_holidays", True)
    if not isinstance(skip_holidays, bool):
        problems.append("config.skip_public_holidays must be true or false")
        skip_holidays = True

    audio = raw.get("audio") or []
    if not isinstance(audio, list) or not all(isinstance(a, str) and a for a in audio):
        problems.append("config.audio must be a list of S3 keys or s3:// URIs")
        audio = []
    ivr_flow = raw.get("ivr_flow")
    if ivr_flow is not None and not isinstance(ivr_flow, dict):
        problems.append("config.ivr_flow must be an object")
        ivr_flow = None

    config = CampaignConfig(
        policy=WindowPolicy(
            window=window,
            blackout_dates=_dates(raw, "blackout_dates", problems),
            skip_public_holidays=skip_holidays,
            holiday_overrides=_dates(raw, "holiday_overrides", problems),
        ),
        max_attempts=_positive_int(raw, "max_attempts", 3, problems),
        retry_delays_s=delays,
        max_attempts_per_24h=_positive_int(raw, "max_attempts_per_24h", None, problems),
        caller_id=raw.get("caller_id"),
        ivr_flow=ivr_flow,
        audio=tuple(audio),
        dial_queue=raw.get("dial_queue"),
        notification_topic=raw.get("notification_topic"),
        expiry_grace_s=_positive_int(raw, "expiry_grace_s", 300, problems, allow_zero=True),
        expected_duration_s=_positive_int(raw, "expected_duration_s", None, problems),
        dispatch_shards=_positive_int(raw, "dispatch_shards", 1, problems),
        max_call_duration_s=_positive_int(raw, "max_call_duration_s", 3600, problems),
    )
    if config.max_call_duration_s > MAX_CALL_DURATION_S:
        problems.append(f"config.max_call_duration_s must be at most {MAX_CALL_DURATION_S}, "
                        f"got {config.max_call_duration_s}")
    if config.dispatch_shards > MAX_DISPATCH_SHARDS:
        problems.append(f"config.dispatch_shards must be at most {MAX_DISPATCH_SHARDS}, got {config.dispatch_shards}")
    if problems:
        raise ConfigError(problems)
    return config
