"""What the claim needs to hold the lockouts after an outcome per number, across campaigns.

The claim reads, for each number it may dial, the latest instant each lockout outcome was written
for it (``number_lockouts``, kept by a trigger on the dialer's records whichever campaign made the
call), and works out the lockout's end from the rules of every window key any contact of the
number has: the law's lockouts in force there, each campaign's own added only to its own dials.
This module turns the rules into that lookup, once per claimer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from include.campaigns.calling_window import LockoutRule, entries_in_force, split_key
from include.campaigns.config import LOCKOUT_OUTCOMES

# A lockout for the rest of the called party's local day ends within a day (and a DST hour) of
# the call; the probe looks back this far for one.
_LOCAL_DAY_HORIZON_H = 48


def _rules_for(zone: str, jurisdiction: str, now: datetime, own: dict[str, LockoutRule]) -> dict[str, dict]:
    day = now.astimezone(ZoneInfo(zone)).date() if zone else now.date()
    result = {}
    for outcome in LOCKOUT_OUTCOMES:
        rules = [
            LockoutRule(e.lockouts[outcome].hours, e.lockouts[outcome].rest_of_local_day)
            for e in entries_in_force(jurisdiction, day)
            if outcome in e.lockouts
        ]
        if outcome in own:
            rules.append(own[outcome])
        hours = max((r.hours for r in rules), default=0)
        local_day = any(r.rest_of_local_day for r in rules)
        if hours or local_day:
            result[outcome] = {"hours": hours, "day": local_day}
    return result


def claim_params(keys: Iterable[str], own: dict[str, LockoutRule], now: datetime) -> dict:
    """The claim's bind parameters: per window key (and '*' for a key not listed), the longest
    lockout after each outcome, in hours, and whether it runs to the end of the local day.

    ``keys`` should be every window key any contact of the claimed numbers may have, in any
    campaign: the law of each applies to every campaign's dial. ``own`` is the claiming
    campaign's own lockouts, which only add to the law's and bind only this campaign's dials.
    """
    table = {}
    for key in {*keys}:
        zone, jurisdiction = split_key(key)
        if rules := _rules_for(zone, jurisdiction, now, own):
            table[key] = rules
    if rules := _rules_for("", "*", now, own):
        table["*"] = rules
    hours = [r["hours"] + (_LOCAL_DAY_HORIZON_H if r["day"] else 0) for k in table.values() for r in k.values()]
    return {
        "lockouts_on": bool(table),
        "lockouts": json.dumps(table, separators=(",", ":"), sort_keys=True),
        "lockout_horizon_h": max(hours, default=0) + 1,
    }
