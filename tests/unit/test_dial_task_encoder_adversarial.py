"""Adversarial checks of the dial-task encoder's fast path: it must write, for every row, the bytes
json.dumps of the row's own fields wrote, whatever tzinfo the database driver hands back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from include.campaigns.campaign import Campaign
from include.campaigns.config import parse_config
from include.campaigns.sender import MESSAGE_VERSION, DialTaskEncoder

NEW_YORK = ZoneInfo("America/New_York")


def reference_not_after(row: dict) -> str:
    return json.loads(json.dumps({"not_after": row["not_after"].astimezone(timezone.utc).isoformat()}))["not_after"]


def row(n: int, not_after: datetime) -> dict:
    return {
        "dial_attempt_id": f"c7-{n}-1",
        "contact_id": n,
        "phone": "+12125550100",
        "attempt": 1,
        "not_after": not_after,
    }


def test_two_cut_offs_in_the_repeated_hour_of_a_dst_end_are_each_encoded_as_their_own_instant():
    encode = DialTaskEncoder(Campaign.missing(7), parse_config({}), "run")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK, fold=0)  # 05:30Z, EDT
    second = first.replace(fold=1)  # 06:30Z, EST: an hour later, yet == first
    assert second.astimezone(timezone.utc) - first.astimezone(timezone.utc) == timedelta(hours=1)
    for r in (row(1, second), row(2, first)):  # the later instant encoded first: the earlier task gets an hour more
        assert json.loads(encode(r))["not_after"] == reference_not_after(r)


def test_equal_instants_in_different_zones_share_one_encoded_cut_off():
    """The cache's other collision (equal instants, different tzinfo) is harmless: both are UTC-converted."""
    encode = DialTaskEncoder(Campaign.missing(7), parse_config({}), "run")
    utc = datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc)
    for r in (row(1, utc.astimezone(NEW_YORK)), row(2, utc), row(3, utc.astimezone(timezone(timedelta(hours=5))))):
        body = json.loads(encode(r))
        assert body["not_after"] == reference_not_after(r) and body["version"] == MESSAGE_VERSION
