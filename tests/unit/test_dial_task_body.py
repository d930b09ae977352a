"""The dial-task message body: the contract with the dialer, whatever the campaign's config."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
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


def _reference_body(encoder_args: tuple, row: dict) -> str:
    """The body as plain json.dumps writes it (the encoder's first form): the fast path must match it byte for byte."""
    campaign, config, run_id = encoder_args
    own = json.dumps(
        {
            "version": MESSAGE_VERSION,
            "dial_attempt_id": row["dial_attempt_id"],
            "contact_id": row["contact_id"],
            "phone": row["phone"],
            "attempt": row["attempt"],
            "not_after": row["not_after"].astimezone(timezone.utc).isoformat(),
        },
        separators=(",", ":"),
    )
    shared = json.dumps(
        {
            "campaign_id": campaign.id,
            "campaign_slug": campaign.slug,
            "caller_id": config.caller_id,
            "ivr_flow": config.ivr_flow,
            "audio": list(config.audio),
            "run_id": run_id,
        },
        separators=(",", ":"),
    )
    return own[:-1] + "," + shared[1:]


@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "dial_attempt_id": st.text(max_size=24),
                "contact_id": st.integers(-(2**63), 2**63 - 1),
                "phone": st.text(max_size=20),
                "attempt": st.integers(0, 2**31 - 1),
                "not_after": st.datetimes(timezones=st.timezones()),
            }
        ),
        max_size=8,
    ),
    slug=st.text(min_size=1, max_size=12),
)
def test_the_body_is_byte_for_byte_what_json_dumps_writes(rows, slug):
    args = (dataclasses.replace(Campaign.missing(7), slug=slug), parse_config({"audio": ["a.wav"]}), "manual__x")
    encode = DialTaskEncoder(*args)
    # The same encoder over several rows: an instant's kept ISO form never leaks into another's.
    assert [encode(row) for row in rows] == [_reference_body(args, row) for row in rows]


def test_a_dial_task_whose_id_is_not_a_whole_number_is_refused():
    encode = DialTaskEncoder(Campaign.missing(7), parse_config({}), "manual__x")
    row = {"dial_attempt_id": "c7-1-1", "contact_id": True, "phone": "+12125550100", "attempt": 1}
    row["not_after"] = datetime(2026, 11, 28, tzinfo=timezone.utc)
    with pytest.raises(TypeError):
        encode(row)
