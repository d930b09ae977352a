"""Every run gets its own report prefix, made of characters any S3 tool handles."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from include.campaigns.reporting import report_prefix

run_ids = st.text(min_size=1, max_size=250)


@given(run_ids, run_ids)
def test_different_run_ids_never_share_a_report_prefix(a, b):
    assert (report_prefix("c", a) == report_prefix("c", b)) == (a == b)


@given(run_ids)
def test_a_report_prefix_is_plain_and_under_its_campaign(run_id):
    prefix = report_prefix("renewals", run_id)
    assert prefix.startswith("reports/renewals/")
    assert re.fullmatch(r"[A-Za-z0-9._/-]+", prefix)
    assert len(prefix) < 400


def test_punctuation_variants_of_one_run_id_get_different_prefixes():
    assert report_prefix("c", "scheduled__2026-11-28T00:00:00+00:00") != report_prefix(
        "c", "scheduled__2026-11-28T00_00_00_00_00"
    )
