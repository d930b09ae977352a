"""The lockout lookup the claim probes a number's last outcomes with: the law's lockouts per window
key, the claiming campaign's own added to every key, never shortening the law's."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from include.campaigns.calling_window import LockoutRule
from include.campaigns.number_lockouts import claim_params

NOW = datetime(2026, 12, 2, 15, tzinfo=timezone.utc)
KEYS = ["Europe/London|GB", "America/New_York|US-NY"]


def test_the_law_locks_an_abandoned_number_for_72_hours_everywhere_and_a_uk_machine_for_the_day():
    params = claim_params(KEYS, {}, NOW)
    table = json.loads(params["lockouts"])
    assert params["lockouts_on"]
    assert table["America/New_York|US-NY"] == {"abandoned": {"hours": 72, "day": False}}
    assert table["Europe/London|GB"]["machine"] == {"hours": 0, "day": True}
    assert table["*"] == {"abandoned": {"hours": 72, "day": False}}
    assert params["lockout_horizon_h"] > 72


def test_a_campaign_lockout_adds_to_every_key_and_never_shortens_the_law():
    longer = json.loads(claim_params(KEYS, {"abandoned": LockoutRule(96)}, NOW)["lockouts"])
    shorter = json.loads(claim_params(KEYS, {"abandoned": LockoutRule(1)}, NOW)["lockouts"])
    assert {k: v["abandoned"]["hours"] for k, v in longer.items()} == dict.fromkeys(longer, 96)
    assert {k: v["abandoned"]["hours"] for k, v in shorter.items()} == dict.fromkeys(shorter, 72)
    daily = json.loads(claim_params(KEYS, {"machine": LockoutRule(0, True)}, NOW)["lockouts"])
    assert daily["America/New_York|US-NY"]["machine"] == {"hours": 0, "day": True}


def test_the_probe_looks_back_past_the_longest_lockout():
    params = claim_params(KEYS, {"abandoned": LockoutRule(500)}, NOW)
    assert params["lockout_horizon_h"] > 500
