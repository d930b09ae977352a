"""What the richer calling rules cost the claim: the same claim over the same contacts under the
full rules data and under a minimal set equal to the old flat legal-hours file (one pair of hours
per jurisdiction, every day alike, three caps and three day bans, no lockouts).

    eval "$(python -m dev.stack env)"; python -m benchmarks.claim_rules [contacts] [rounds]

The contacts are a realistic mix: numbers of many US states (some with an address in another
state, so composite jurisdictions such as US-FL+US-GA), Canada and the UK, in their own zones.
Both settings open the window keys at one instant of a coming ordinary Wednesday (every zone in
the mix inside every legal window), so they claim the same contacts; each chunk is claimed in a
transaction that is rolled back. What is timed is what a dispatch does per call: the window keys
opened under the rules, the claimer set up, and every chunk claimed. The campaign is deleted
afterwards.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

SLUG = "bench_claim_rules"

# (prefix, digits, share, another state's address for some of them)
MIX = [
    ("+1212", 7, 8, "US-NJ"),
    ("+1305", 7, 8, "US-GA"),
    ("+1404", 7, 5, "US-FL"),
    ("+1214", 7, 8, "US-OK"),
    ("+1206", 7, 5, "US-OR"),
    ("+1405", 7, 3, "US-TX"),
    ("+1410", 7, 4, "US-VA"),
    ("+1205", 7, 3, "US-MS"),
    ("+1504", 7, 3, "US-TX"),
    ("+1601", 7, 2, "US-AL"),
    ("+1312", 7, 6, "US-IN"),
    ("+1213", 7, 10, "US-NV"),
    ("+1602", 7, 3, None),
    ("+1303", 7, 3, None),
    ("+1617", 7, 4, "US-NH"),
    ("+1801", 7, 2, None),
    ("+1401", 7, 2, "US-MA"),
    ("+1808", 7, 1, None),
    ("+1907", 7, 1, None),
    ("+1615", 7, 3, "US-KY"),
    ("+1416", 7, 5, None),
    ("+1604", 7, 3, None),
    ("+1514", 7, 2, "US-FL"),
    ("+44207946", 4, 2, None),
    ("+44161", 7, 3, None),
]


def _minimal_entries():
    """The old flat file as rules entries: '*' and US 08:00-21:00, Florida, Oklahoma and Maryland
    08:00-20:00 with a cap of 3, Alabama and Louisiana no Sundays or holidays, Mississippi no Sundays."""
    from include.campaigns.rules import Entry

    def entry(code, hours=None, cap=None, sunday=False, holidays=False):
        raw = {
            "jurisdiction": code,
            "effective_from": None,
            "kind": "conservative",
            "summary": "bench",
            "source": {"citation": "the old flat file", "url": "https://example.org/"},
            "verified": True,
        }
        if hours:
            raw["hours"] = {
                d: ({"start": hours[0], "end": hours[1]} if not (sunday and d == "sun") else None)
                for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            }
        if cap:
            raw["cap"] = {"attempts": cap, "per": "number", "window": "rolling_24h", "counts": "calls"}
        if sunday:
            raw["sunday_ban"] = True
            raw.get("hours", {}).pop("sun", None)
        if holidays:
            raw.update(holiday_ban=True, holiday_calendar=code)
        return Entry.model_validate(raw)

    return (
        entry("*", ("08:00", "21:00")),
        entry("US", ("08:00", "21:00")),
        *(entry(code, ("08:00", "20:00"), cap=3) for code in ("US-FL", "US-OK", "US-MD")),
        *(entry(code, sunday=True, holidays=True) for code in ("US-AL", "US-LA")),
        entry("US-MS", sunday=True),
    )


@contextmanager
def rules(entries):
    """Claim under ``entries`` instead of the rules data; the data again afterwards."""
    from include.campaigns import calling_window

    saved = calling_window.ENTRIES

    def use(value):
        calling_window.ENTRIES = value
        calling_window._entries_by_code.cache_clear()
        calling_window._legal_rule.cache_clear()

    use(entries)
    try:
        yield
    finally:
        use(saved)


def ordinary_wednesday(after: date) -> datetime:
    """19:00 UTC on the first Wednesday after ``after`` that is no public holiday in the mix's
    countries: 09:00 in Honolulu to 19:00 in London, inside every legal window."""
    import holidays

    day = after + timedelta(days=1)
    while day.weekday() != 2 or any(day in holidays.country_holidays(c, years=day.year) for c in ("US", "CA", "GB")):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 19, tzinfo=timezone.utc)


def _campaign(conn, contacts: int) -> int:
    from dev.seed import create_campaign, phone_numbers

    conn.execute("DELETE FROM campaigns WHERE slug = %s", (SLUG,))
    campaign_id = create_campaign(
        conn,
        SLUG,
        max_in_flight=10**6,
        config={"skip_public_holidays": False, "calling_window": {"start": "00:00", "end": "23:59"}},
    )
    rng = random.Random(11)
    shares = sum(m[2] for m in MIX)
    rows = []
    for prefix, digits, share, elsewhere in MIX:
        for phone in phone_numbers(prefix, digits, max(1, contacts * share // shares), rng):
            rows.append(
                (campaign_id, phone, elsewhere if elsewhere and rng.random() < 0.2 else None, rng.randint(0, 3))
            )
    rng.shuffle(rows)
    with conn.cursor() as cur, cur.copy("COPY contacts (campaign_id, phone, region, priority) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return campaign_id


def _rate(conn, campaign_id: int, at: datetime, chunk: int = 1000) -> tuple[float, int]:
    from include.campaigns import dispatch as d
    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.claim import Claimer
    from include.campaigns.db import fetch_all
    from include.campaigns.runs import RunContext

    campaign = load_campaign(conn, campaign_id)
    config = campaign.config
    run = RunContext(campaign_id=campaign_id, run_id="bench", run_start=at, run_end=at + timedelta(days=1), live=True)
    keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign_id})]
    claimed, started = 0, time.perf_counter()
    opened = open_keys(config.policy, keys, at)
    claimer = Claimer(conn, campaign, config, run, opened, at, page=d.WALK_PAGE)
    while not claimer.exhausted:
        with conn.transaction(force_rollback=True):
            claimed += len(claimer.claim(chunk))
    return claimed / (time.perf_counter() - started), claimed


def measure(contacts: int = 20_000, rounds: int = 3) -> dict:
    """Claim rates under the full rules and the minimal set, one list each, the two of a round
    moments apart; and how many contacts each claimed."""
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.resolution import resolve_contacts

    minimal = _minimal_entries()
    at = ordinary_wednesday(datetime.now(timezone.utc).date())
    with campaign_db() as conn:
        campaign_id = _campaign(conn, contacts)
        resolve_contacts(conn, load_campaign(conn, campaign_id))
        keys = conn.execute(
            "SELECT count(*) FROM campaign_window_keys WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()[0]
        result: dict = {"full": [], "minimal": [], "claimed": {}, "window_keys": keys, "at": at.isoformat()}
        try:
            _rate(conn, campaign_id, at)  # warm: the first pass reads the contacts into the cache
            for _ in range(rounds):
                for name in ("full", "minimal"):
                    if name == "minimal":
                        with rules(minimal):
                            rate, claimed = _rate(conn, campaign_id, at)
                    else:
                        rate, claimed = _rate(conn, campaign_id, at)
                    result[name].append(rate)
                    result["claimed"][name] = claimed
        finally:
            conn.execute("DELETE FROM campaigns WHERE id = %s", (campaign_id,))
    return result


def main(contacts: int = 20_000, rounds: int = 3) -> None:
    result = measure(contacts, rounds)
    for name in ("full", "minimal"):
        values = result[name]
        print(
            f"claim under the {name} rules, {result['claimed'][name]:,} contacts claimed "
            f"({result['window_keys']} window keys, at {result['at']}): {statistics.median(values):,.0f}/s "
            f"(median of {rounds}; {min(values):,.0f}-{max(values):,.0f})"
        )
    ratios = [f / m for f, m in zip(result["full"], result["minimal"])]
    print(f"full ÷ minimal (same round): {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")


def record(bench, result: dict) -> None:
    """Into ``make bench``'s table: both rates and their ratio, round by round."""
    for full, minimal in zip(result["full"], result["minimal"]):
        bench.series_of("claim_rules_full").add(full)
        bench.series_of("claim_rules_minimal").add(minimal)
        bench.series_of("claim_rules_full/minimal").add(full / minimal)
    bench.notes.append(
        f"Claim under the full rules vs the minimal set: {result['claimed']['full']:,} and "
        f"{result['claimed']['minimal']:,} contacts claimed, {result['window_keys']} window keys, "
        f"the keys opened at {result['at']}."
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
