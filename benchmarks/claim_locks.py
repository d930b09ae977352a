"""What the per-phone claim locks cost: claim throughput with no cap (no number is locked) and with
a 24 h cap (every claimed number is locked), chunk by chunk as dispatch claims.

    eval "$(python -m dev.stack env)"; python -m benchmarks.claim_locks [contacts] [rounds]

It creates its own campaign (slug ``bench_claim_locks``), claims every chunk in a transaction that
is rolled back (the campaign stays as it was), prints contacts claimed per second per setting, and
deletes the campaign. Run it with the code of two commits on the same stack to compare them.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone


def _campaign(conn, contacts: int) -> int:
    from dev.seed import create_campaign
    from tests.helpers import open_zone, us_numbers

    conn.execute("DELETE FROM campaigns WHERE slug = 'bench_claim_locks'")
    campaign_id = create_campaign(
        conn,
        "bench_claim_locks",
        max_in_flight=10**6,
        config={"skip_public_holidays": False, "calling_window": {"start": "08:00", "end": "21:00"}},
    )
    zone = open_zone()
    with conn.cursor() as cur, cur.copy("COPY contacts (campaign_id, phone, timezone) FROM STDIN") as copy:
        for phone in us_numbers(contacts, seed=7, area="212"):
            copy.write_row((campaign_id, phone, zone))
    return campaign_id


def _rate(conn, campaign_id: int, config: dict, chunk: int = 1000) -> float:
    from include.campaigns import dispatch as d
    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.claim import Claimer
    from include.campaigns.config import parse_config
    from include.campaigns.db import fetch_all
    from include.campaigns.runs import RunContext

    conn.execute("UPDATE campaigns SET config = %s WHERE id = %s", (json.dumps(config), campaign_id))
    campaign = load_campaign(conn, campaign_id)
    parsed = parse_config(config)
    now = datetime.now(timezone.utc)
    run = RunContext(campaign_id=campaign_id, run_id="bench", run_start=now, run_end=now + timedelta(days=1), live=True)
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign_id})]
    claimer = Claimer(conn, campaign, parsed, run, open_keys(parsed.policy, keys, now), now, page=d.WALK_PAGE)
    claimed, started = 0, time.perf_counter()
    while not claimer.exhausted:
        with conn.transaction(force_rollback=True):
            claimed += len(claimer.claim(chunk))
    return claimed / (time.perf_counter() - started)


SETTINGS = {"no cap (nothing locked)": {}, "24 h cap (every number locked)": {"max_attempts_per_24h": 1}}


def measure(contacts: int = 20_000, rounds: int = 3) -> dict[str, list[float]]:
    """Claim rates per setting, one list per setting, the two settings of a round moments apart."""
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.resolution import resolve_contacts

    with campaign_db() as conn:
        campaign_id = _campaign(conn, contacts)
        resolve_contacts(conn, load_campaign(conn, campaign_id))
        base = {"skip_public_holidays": False, "calling_window": {"start": "08:00", "end": "21:00"}}
        rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
        try:
            for _ in range(rounds):
                for name, extra in SETTINGS.items():  # interleaved, so each pair runs moments apart
                    rates[name].append(_rate(conn, campaign_id, {**base, **extra}))
        finally:
            conn.execute("DELETE FROM campaigns WHERE id = %s", (campaign_id,))
    return rates


def main(contacts: int = 20_000, rounds: int = 3) -> None:
    for name, values in measure(contacts, rounds).items():
        print(
            f"claim, {contacts:,} contacts in chunks of 1000, {name}: {statistics.median(values):,.0f}/s "
            f"(median of {rounds}; {min(values):,.0f}-{max(values):,.0f})"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
