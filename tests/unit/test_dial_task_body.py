"""The dial-task message body: the contract with the dialer, whatever the campaign's config."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from include.campaigns.campaign import Campaign
from include.campaigns.config import parse_config
from include.campaigns.sender import MESSAGE_VERSION, DialTaskEncoder

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(
    ivr_flow=st.one_of(st.none(), st.dictionaries(st.text(max_size=6), json_values, max_size=4)),
    audio=st.lists(st.text(min_size=1, max_size=10), max_size=3),
    caller_id=st.one_of(st.none(), st.just("+12125550100")),
    slug=st.text(min_size=1, max_size=12),
    run_id=st.text(max_size=30),
    phone=st.text(max_size=16),
    attempt=st.integers(1, 9),
    offset_s=st.integers(-(10**6), 10**6),
)
def test_every_field_of_the_contract_is_in_each_body_exactly(
    ivr_flow, audio, caller_id, slug, run_id, phone, attempt, offset_s
):
    config = parse_config({"ivr_flow": ivr_flow, "audio": audio, "caller_id": caller_id})
    not_after = datetime(2026, 11, 28, 20, 0, tzinfo=timezone(timedelta(hours=-5))) + timedelta(seconds=offset_s)
    row = {
        "dial_attempt_id": f"c7-42-{attempt}",
        "contact_id": 42,
        "phone": phone,
        "attempt": attempt,
        "not_after": not_after,
    }
    body = json.loads(DialTaskEncoder(dataclasses.replace(Campaign.missing(7), slug=slug), config, run_id)(row))
    assert body == {
        "version": MESSAGE_VERSION,
        "dial_attempt_id": f"c7-42-{attempt}",
        "campaign_id": 7,
        "campaign_slug": slug,
        "contact_id": 42,
        "phone": phone,
        "attempt": attempt,
        "caller_id": caller_id,
        "ivr_flow": ivr_flow,
        "audio": audio,
        "not_after": not_after.astimezone(timezone.utc).isoformat(),
        "run_id": run_id,
    }
