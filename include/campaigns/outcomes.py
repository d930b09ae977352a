"""Every way a run can end, or be announced while it runs: the one vocabulary of outcomes.

The poke decides most of them (run_end.decide), the failure and deadline callbacks the rest; the
report shows each as a badge in its tone, and the notification carries it as the `outcome`
attribute with the tone's `severity`. The README's "How a run ends" table has one row per member,
and tests/unit/test_outcomes.py holds the two together: a new member needs its row, its tone and
a test that names it.

Stdlib only: the DAG files import this on every parse.
"""

from __future__ import annotations

from enum import StrEnum


class Tone(StrEnum):
    """How an outcome reads: the report's badge colour (a CSS class) and the alert's severity."""

    GOOD = "good"
    MUTED = "muted"
    WARN = "warn"
    BAD = "bad"

    @property
    def severity(self) -> str:
        """The SNS `severity` attribute: a subscription that pages someone filters on `critical`."""
        return {"good": "info", "muted": "info", "warn": "warning", "bad": "critical"}[self.value]


class TonedStrEnum(StrEnum):
    """Members declared as (value, tone): a member without its tone is a TypeError at import."""

    tone: Tone

    # The tone defaults only so that mypy reads a lookup, Outcome("completed"), as a valid call (it
    # checks lookups against this constructor, which Enum uses only to build the members): a member
    # declared without its tone still fails below.
    def __new__(cls, value: str, tone: Tone | None = None) -> TonedStrEnum:
        if not isinstance(tone, Tone):
            raise TypeError(f"{value!r} needs a Tone, got {tone!r}")
        member = str.__new__(cls, value)
        member._value_ = value
        member.tone = tone
        return member


class Outcome(TonedStrEnum):
    """A run's outcome, or an alert about a run that goes on."""

    DRY_RUN = "dry_run", Tone.MUTED
    REPORT_ONLY = "report_only", Tone.MUTED
    CANCELLED = "cancelled", Tone.MUTED
    COMPLETED = "completed", Tone.GOOD
    COMPLETED_AT_END = "completed_at_end", Tone.GOOD
    INTERVAL_ENDED = "interval_ended", Tone.GOOD
    LIMIT_REACHED = "limit_reached", Tone.GOOD
    NOTHING_TO_DO = "nothing_to_do", Tone.MUTED
    VALIDATION_FAILED = "validation_failed", Tone.BAD
    FAILED = "failed", Tone.BAD
    ABANDON_RATE_EXCEEDED = "abandon_rate_exceeded", Tone.WARN
    TOO_SLOW = "too_slow", Tone.WARN


# The badge of an outcome this version does not know (a report stored by an older one).
NEUTRAL = "neutral"


def tone_of(outcome: str | None) -> str:
    """The badge class of any outcome string; one this vocabulary lacks gets the neutral badge."""
    if outcome is None:
        return NEUTRAL
    try:
        return Outcome(outcome).tone.value
    except ValueError:
        return NEUTRAL
