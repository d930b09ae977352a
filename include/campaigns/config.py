"""The campaign's ``config`` document: a strict pydantic model, parsed once, every problem collected.

:class:`ConfigDocument` is the document an operator writes (``campaigns.config``): it refuses
unknown keys, checks every value, and is the one source of the JSON Schema and of
``docs/config.md``. :func:`parse_config` validates a document against it and returns the
:class:`CampaignConfig` the code reads, or raises :class:`ConfigError` naming every problem in
words an operator can act on (``config.<key> must be …, got …``).

    python -m include.campaigns.config           # rewrite docs/config.md and docs/config.schema.json
    python -m include.campaigns.config --check   # exit 1 when either is stale
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from include.campaigns.calling_window import DAYS, FULL_DAY_NAMES, CallingWindow, LockoutRule, WindowPolicy

# The outcomes a dialer reports, and what each means for the contact. 'abandoned' (answered, no
# agent or message in time) and 'machine' (answering-machine detection) came with version 2 of
# the dial-task contract; each retries no sooner than its lockout allows.
FINAL_OUTCOMES = ("answered", "converted")
RETRY_OUTCOMES = ("busy", "no_answer", "failed", "voicemail", "abandoned", "machine")
LOCKOUT_OUTCOMES = ("abandoned", "machine")
OPT_OUT_OUTCOME = "opted_out"
OUTCOMES = FINAL_OUTCOMES + RETRY_OUTCOMES + (OPT_OUT_OUTCOME,)

DEFAULT_RETRY_DELAYS_S = {
    "busy": 30 * 60,
    "no_answer": 2 * 3600,
    "failed": 3600,
    "voicemail": 4 * 3600,
    "abandoned": 4 * 3600,
    "machine": 4 * 3600,
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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WINDOW_KEYS = ("start", "end", "days")


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CampaignConfig:
    """The parsed config, as the tasks read it."""

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


# --------------------------------------------------------------------------------------------
# The document's model
# --------------------------------------------------------------------------------------------


def _problem(text: str) -> PydanticCustomError:
    """A check of our own whose wording is already the operator's (``ctx['problem']``)."""
    return PydanticCustomError("campaign_config", "{problem}", {"problem": text})


def _calling_window(value: object) -> CallingWindow:
    # The window's own parser keeps its rules (a loose HH:MM, day names in any case) in one place;
    # the model adds that it is an object and names no other key.
    if value is None:
        return CallingWindow()
    if not isinstance(value, dict):
        raise _problem("config.calling_window must be an object with start, end and days")
    unknown = sorted(str(key) for key in value if key not in _WINDOW_KEYS)
    if unknown:
        raise _problem(f"config.calling_window has unknown keys: {', '.join(unknown)} (it has start, end and days)")
    try:
        return CallingWindow.from_config(value)
    except ValueError as exc:
        raise _problem(f"config.calling_window: {exc}") from None


def _iso_date(value: object) -> date:
    try:
        if not (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("iso_date", "not a YYYY-MM-DD date") from None


def _bounds(key: str) -> Any:
    low, high = RANGES[key]
    return Field(ge=low, le=high)


_HHMM = {"type": "string", "pattern": r"^([01]?[0-9]|2[0-3]):[0-5]?[0-9]$"}


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" for c in word)


# JSON Schema patterns have no case-insensitive flag: each letter is written in both cases.
_DAY_PATTERN = "^(" + "|".join(_any_case(d) for d in FULL_DAY_NAMES + DAYS) + ")$"
CallingWindowField = Annotated[
    CallingWindow,
    PlainValidator(_calling_window),
    WithJsonSchema(
        {
            "type": "object",
            "properties": {
                "start": {**_HHMM, "default": "09:00", "description": "local HH:MM the window opens"},
                "end": {**_HHMM, "default": "20:00", "description": "local HH:MM it closes; after start"},
                "days": {
                    "type": "array",
                    "minItems": 1,
                    "default": list(DAYS),
                    "items": {"type": "string", "pattern": _DAY_PATTERN},
                    "description": "day names or their first three letters, in any case",
                },
            },
            "additionalProperties": False,
        }
    ),
]
IsoDate = Annotated[date, PlainValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})]
Dates = Annotated[list[IsoDate], Field(max_length=MAX_DATES)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=r"\S")]
AudioKey = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
RetryOutcome = Literal["busy", "no_answer", "failed", "voicemail", "abandoned", "machine"]
LockoutOutcome = Literal["abandoned", "machine"]


class LockoutDocument(BaseModel):
    """A campaign's own lockout after one outcome, on top of the law's."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, json_schema_extra={"minProperties": 1})

    hours: Annotated[
        int, Field(ge=RANGES["lockouts"][0], le=RANGES["lockouts"][1], description="no redial for this many hours")
    ] = 0
    rest_of_local_day: Annotated[bool, Field(description="nor again on the called party's local day of it")] = False

    @model_validator(mode="before")
    @classmethod
    def _says_something(cls, value: object) -> object:
        if value == {}:
            raise PydanticCustomError("empty_lockout", "a lockout needs hours or rest_of_local_day")
        return value


class ConfigDocument(BaseModel):
    """`campaigns.config`: every key optional, none other allowed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, title="Campaign config")

    calling_window: Annotated[
        CallingWindowField | None, Field(description="the local window; the legal floor still applies")
    ] = None
    max_attempts: Annotated[Annotated[int, _bounds("max_attempts")], Field(description="attempts per contact")] = 3
    retry_delays_s: Annotated[
        dict[RetryOutcome, Annotated[int, _bounds("retry_delays_s")]] | None,
        Field(
            description="seconds before a retry, per outcome (the others keep their default: busy 1800, no_answer "
            "7200, failed 3600, voicemail, abandoned and machine 14400); 0 retries at once inside the "
            "window; a lockout may hold it longer"
        ),
    ] = None
    lockouts: Annotated[
        dict[LockoutOutcome, LockoutDocument] | None,
        Field(description="the campaign's own lockout after an outcome, on top of the law's (never instead of it)"),
    ] = None
    requires_consent: Annotated[bool, Field(description="a contact without consent_at is skipped (no_consent)")] = False
    max_attempts_per_24h: Annotated[
        Annotated[int, _bounds("max_attempts_per_24h")] | None,
        Field(description="attempts per phone number across campaigns over a rolling 24 h"),
    ] = None
    skip_public_holidays: Annotated[
        bool, Field(description="no calls on the public holidays of the contact's jurisdictions")
    ] = True
    holiday_overrides: Annotated[
        Dates | None, Field(description="local dates of public holidays the campaign may call on anyway")
    ] = None
    blackout_dates: Annotated[Dates | None, Field(description="local dates with no calls")] = None
    caller_id: Annotated[
        Annotated[str, Field(pattern=f"^{E164.pattern}$")] | None,
        Field(description="E.164 number carried in each dial task"),
    ] = None
    ivr_flow: Annotated[
        dict[str, Any] | None, Field(description="the IVR flow graph carried in each dial task (checked at validation)")
    ] = None
    audio: Annotated[
        Annotated[list[AudioKey], Field(max_length=MAX_AUDIO)] | None,
        Field(
            description="S3 keys or s3:// URIs carried in each dial task; each must exist in S3 and the "
            "dial task must fit one SQS message"
        ),
    ] = None
    dial_queue: Annotated[
        Name | None, Field(description="SQS queue name or URL instead of the Airflow Variable; on the allow-list")
    ] = None
    notification_topic: Annotated[
        Name | None, Field(description="SNS topic ARN instead of the Airflow Variable; on the allow-list")
    ] = None
    expiry_grace_s: Annotated[
        Annotated[int, _bounds("expiry_grace_s")],
        Field(description="added to max_call_duration_s: how long after not_after a dial task with no result expires"),
    ] = 300
    max_call_duration_s: Annotated[
        Annotated[int, _bounds("max_call_duration_s")],
        Field(description="the longest call expected; a contact whose call may still be going on is not dialed again"),
    ] = 3600
    expected_duration_s: Annotated[
        Annotated[int, _bounds("expected_duration_s")] | None,
        Field(
            description="when a run counts as too slow (default: the span to the next fire time or the end, + 30 min)"
        ),
    ] = None
    dispatch_shards: Annotated[
        Annotated[int, _bounds("dispatch_shards")],
        Field(description="mapped dispatch_contacts tasks per run, for campaigns too large for one worker"),
    ] = 1


KNOWN_KEYS = frozenset(ConfigDocument.model_fields)


# --------------------------------------------------------------------------------------------
# From pydantic's errors to the operator's words
# --------------------------------------------------------------------------------------------


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _range_text(key: str) -> str:
    low, high = RANGES[key]
    return f"an integer from {low} to {high}"


_LOCKOUT_SHAPE = (
    f'an object mapping {" or ".join(LOCKOUT_OUTCOMES)} to {{"hours": {_range_text("lockouts")}, '
    f'"rest_of_local_day": true or false}}'
)
# What a key must be, for any error on it (or inside it) that has no wording of its own.
_MUST_BE = {
    "max_attempts": _range_text("max_attempts"),
    "max_attempts_per_24h": _range_text("max_attempts_per_24h"),
    "expiry_grace_s": _range_text("expiry_grace_s"),
    "expected_duration_s": _range_text("expected_duration_s"),
    "dispatch_shards": _range_text("dispatch_shards"),
    "max_call_duration_s": _range_text("max_call_duration_s"),
    "caller_id": "an E.164 number such as +12125550100",
    "dial_queue": f"an SQS queue name or URL of 1 to {NAME_MAX} characters",
    "notification_topic": f"an SNS topic ARN of 1 to {NAME_MAX} characters",
}
_FIXED = {
    "skip_public_holidays": "config.skip_public_holidays must be true or false",
    "requires_consent": "config.requires_consent must be true or false",
    "ivr_flow": "config.ivr_flow must be an object",
    "audio": f"config.audio must be a list of at most {MAX_AUDIO} S3 keys or s3:// URIs of 1 to {NAME_MAX} characters",
    "retry_delays_s": "config.retry_delays_s must map outcomes to seconds",
    "lockouts": f"config.lockouts must be {_LOCKOUT_SHAPE}",
    "blackout_dates": f"config.blackout_dates must be a list of at most {MAX_DATES} YYYY-MM-DD dates",
    "holiday_overrides": f"config.holiday_overrides must be a list of at most {MAX_DATES} YYYY-MM-DD dates",
}


def _wording(error: Mapping[str, Any], raw: dict) -> str:
    loc, value = error["loc"], error["input"]
    key = loc[0]
    if error["type"] == "campaign_config":
        return error["ctx"]["problem"]
    if key in _MUST_BE:
        return f"config.{key} must be {_MUST_BE[key]}, got {_shown(value)}"
    if key in ("blackout_dates", "holiday_overrides") and len(loc) == 2:
        return f"config.{key} has {value!r}, which is not a YYYY-MM-DD date"
    if key == "retry_delays_s" and len(loc) >= 2:
        if loc[-1] == "[key]":
            return f"config.retry_delays_s: {loc[1]!r} is not a retryable outcome {RETRY_OUTCOMES}"
        return f"config.retry_delays_s.{loc[1]} must be {_range_text('retry_delays_s')} (seconds), got {_shown(value)}"
    if key == "lockouts" and len(loc) >= 2:
        outcome = loc[1]
        if loc[-1] == "[key]":
            return f"config.lockouts: {outcome!r} is not an outcome with a lockout {LOCKOUT_OUTCOMES}"
        if len(loc) == 3 and loc[2] == "hours" and error["type"] != "extra_forbidden":
            return f"config.lockouts.{outcome}.hours must be {_range_text('lockouts')}, got {_shown(value)}"
        if len(loc) == 3 and loc[2] == "rest_of_local_day" and error["type"] != "extra_forbidden":
            return f"config.lockouts.{outcome}.rest_of_local_day must be true or false"
        return (
            f'config.lockouts.{outcome} must be {{"hours": ..., "rest_of_local_day": ...}}, '
            f"got {_shown(raw['lockouts'][outcome])}"
        )
    return _FIXED.get(key, f"config.{key}: {error['msg']}")


def _problems(exc: ValidationError, raw: dict) -> list[str]:
    errors = exc.errors(include_url=False)
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden" and len(e["loc"]) == 1)
    problems = [f"config has unknown keys: {', '.join(unknown)}"] if unknown else []
    # One problem per thing wrong: a container that is itself wrong hides what is inside it, and
    # a key that is not allowed hides its value.
    containers = {e["loc"] for e in errors if e["type"] in ("dict_type", "list_type", "too_long")}
    refused_keys = {e["loc"][:-1] for e in errors if e["loc"][-1] == "[key]"}
    for error in errors:
        loc = error["loc"]
        if error["type"] == "extra_forbidden" and len(loc) == 1:
            continue
        if any(loc[:i] in containers for i in range(1, len(loc))) or loc in refused_keys:
            continue
        text = _wording(error, raw)
        if text not in problems:
            problems.append(text)
    return problems


def parse_config(raw: object) -> CampaignConfig:
    """Parse a campaign config; raise ConfigError naming every problem at once."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"config must be a JSON object, got {type(raw).__name__}"])
    try:
        doc = ConfigDocument.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, raw)) from None
    return CampaignConfig(
        policy=WindowPolicy(
            window=doc.calling_window or CallingWindow(),
            blackout_dates=frozenset(doc.blackout_dates or ()),
            skip_public_holidays=doc.skip_public_holidays,
            holiday_overrides=frozenset(doc.holiday_overrides or ()),
        ),
        max_attempts=doc.max_attempts,
        retry_delays_s={**DEFAULT_RETRY_DELAYS_S, **{str(k): v for k, v in (doc.retry_delays_s or {}).items()}},
        max_attempts_per_24h=doc.max_attempts_per_24h,
        caller_id=doc.caller_id,
        ivr_flow=doc.ivr_flow,
        audio=tuple(doc.audio or ()),
        dial_queue=doc.dial_queue,
        notification_topic=doc.notification_topic,
        expiry_grace_s=doc.expiry_grace_s,
        expected_duration_s=doc.expected_duration_s,
        dispatch_shards=doc.dispatch_shards,
        max_call_duration_s=doc.max_call_duration_s,
        lockouts={
            outcome: LockoutRule(rule.hours, rule.rest_of_local_day) for outcome, rule in (doc.lockouts or {}).items()
        },
        requires_consent=doc.requires_consent,
    )


# --------------------------------------------------------------------------------------------
# The JSON Schema and docs/config.md, generated from the model
# --------------------------------------------------------------------------------------------

_DOCS = Path(__file__).resolve().parents[2] / "docs"
CONFIG_DOC = _DOCS / "config.md"
CONFIG_SCHEMA_DOC = _DOCS / "config.schema.json"


def json_schema() -> dict:
    return ConfigDocument.model_json_schema()


def _type_text(prop: dict, defs: dict) -> str:
    if "$ref" in prop:
        prop = defs[prop["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in prop:
        kinds = [_type_text(p, defs) for p in prop["anyOf"]]
        return " or ".join(k for k in kinds if k != "null") + " or null"
    kind = prop.get("type", "any")
    if kind == "integer" and "minimum" in prop:
        return f"integer {prop['minimum']:,}–{prop['maximum']:,}"
    if kind == "array":
        items = _type_text(prop.get("items", {}), defs)
        bound = f"up to {prop['maxItems']:,} " if "maxItems" in prop else ""
        return f"list of {bound}{items}"
    if kind == "string":
        bits = [f"format {prop['format']}"] if "format" in prop else []
        pattern = prop.get("pattern")
        bits += (
            ["not blank"]
            if pattern == r"\S"
            else [f"pattern `{pattern}`"]
            if pattern and len(pattern) < 50
            else ["see the schema"]
            if pattern
            else []
        )
        bits += [f"{prop.get('minLength', 0)}–{prop['maxLength']:,} characters"] if "maxLength" in prop else []
        return "string" + (f" ({', '.join(bits)})" if bits else "")
    if kind == "object" and "properties" in prop:
        return "object: " + ", ".join(f"`{name}`" for name in prop["properties"])
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        keys = prop.get("propertyNames", {}).get("enum")
        value = _type_text(prop["additionalProperties"], defs)
        return f"object of {' / '.join(f'`{k}`' for k in keys)} → {value}" if keys else f"object of {value}"
    return {"boolean": "true or false", "object": "object", "null": "null"}.get(kind, kind)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_docs() -> tuple[str, str]:
    """docs/config.md and docs/config.schema.json, as the model renders them."""
    schema = json_schema()
    defs = schema.get("$defs", {})
    lines = [
        "# Campaign config",
        "",
        "<!-- Generated from include/campaigns/config.py (ConfigDocument) by `make config-doc`;",
        "     a test fails when this page differs from what the model renders. -->",
        "",
        "`campaigns.config` is a JSON object; every key is optional and no other key is allowed.",
        "`validate_campaign` reports every problem at once, each naming its key. The JSON Schema is",
        "[config.schema.json](config.schema.json).",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, prop in schema["properties"].items():
        default = json.dumps(prop["default"]) if "default" in prop else "—"
        default = "none" if default == "null" else f"`{default}`"
        description = _cell(prop.get("description", ""))
        lines.append(f"| `{name}` | {_cell(_type_text(prop, defs))} | {default} | {description} |")
    for name, sub in sorted(defs.items()):
        lines += [
            "",
            f"## {sub.get('title', name)}",
            "",
            sub.get("description", ""),
            "",
            "| key | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for key, prop in sub["properties"].items():
            default = f"`{json.dumps(prop['default'])}`" if "default" in prop else "—"
            lines.append(f"| `{key}` | {_cell(_type_text(prop, defs))} | {default} | {prop.get('description', '')} |")
    window = schema["properties"]["calling_window"]["anyOf"][0]["properties"]
    lines += ["", "## calling_window", "", "| key | type | default | meaning |", "|---|---|---|---|"]
    for key, prop in window.items():
        lines.append(
            f"| `{key}` | {_cell(_type_text(prop, defs))} | `{json.dumps(prop['default'])}` | {prop['description']} |"
        )
    return "\n".join(lines) + "\n", json.dumps(schema, indent=2) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for path, text in zip((CONFIG_DOC, CONFIG_SCHEMA_DOC), render_docs()):
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    for path in stale:
        print(f"{path} is stale: run `make config-doc`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
