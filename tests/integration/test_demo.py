"""`make demo`'s last step: the figures it prints and a link that opens the report."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_the_demo_prints_its_figures_and_a_signed_link_to_its_report():
    from dev import demo
    from include.campaigns.resources import report_bucket

    uri = f"s3://{report_bucket()}/reports/{demo.SLUG}/manual__run-0123456789abcdef/report.html"
    report = {
        "outcome": "completed",
        "s3_uri": uri,
        "funnel": {"contacts": 10, "eligible": 8, "dispatched": 8, "dialed": 7, "answered": 4, "converted": 1},
        "rates": {"asr": 0.57, "acd_s": 61.0, "conversion_rate": 0.14, "opt_outs": 1},
        "blocked": {"blacklist": 1, "invalid_number": 1, "expired": 0},
    }

    text = demo.summary("manual__run", report)

    assert "dialed               7" in text and uri in text
    link = text.rsplit(": ", 1)[1]
    assert link.startswith("http") and "report.html" in link and "Signature" in link, link
