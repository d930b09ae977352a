"""The CSV's masked phone, as PostgreSQL writes it, against phones.mask for any shape of number: the
E.164 ones read without a regular expression, every other one the long way."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dev.seed import create_campaign
from include.campaigns.phones import mask
from include.campaigns.report_render import render_csv_to
from include.campaigns.reporting import contact_rows

pytestmark = pytest.mark.integration

PHONES = st.one_of(
    st.text(alphabet="+0123456789", max_size=16),
    st.text(alphabet="+0123456789 ()-.x", max_size=16),
    st.from_regex(r"\+[0-9]{0,15}", fullmatch=True),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(phones=st.lists(PHONES, unique=True, min_size=1, max_size=40))
def test_every_masked_phone_in_the_csv_is_the_one_phones_mask_gives(db, phones):
    db.execute("TRUNCATE contacts, campaigns RESTART IDENTITY CASCADE")
    campaign_id = create_campaign(db, "masked")
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO contacts (campaign_id, phone) VALUES (%s, %s)", [(campaign_id, phone) for phone in phones]
        )
    buffer = io.StringIO(newline="")
    render_csv_to(buffer, contact_rows(db, campaign_id))

    masked = [row["phone_masked"] for row in csv.DictReader(io.StringIO(buffer.getvalue(), newline=""))]
    assert masked == [mask(phone) for phone in phones]
