"""Benchmark data, generated inside PostgreSQL with generate_series (no row-by-row inserts).

Every campaign has the benchmark's mix, fixed by the contact's sequence number g:
``g mod 20 = 0`` an invalid number (5%), ``= 1`` on the PostgreSQL blacklist (5%), ``= 2`` on
the Redis opt-out set only (5%); the other 85% are valid and on no list.

Numbers are real E.164 numbers of ~28 places around the world. Only places whose calling window
is open now (and stays open for the whole bench) hold dispatchable contacts, so the figures do
not depend on the hour the bench is run; the 1M-contact campaign also has two closed places.

Contacts are stored already resolved, as ``dispatch.resolve_contacts`` leaves them (timezones,
jurisdiction, window keys; invalid numbers marked ``invalid`` with resolve's reason). The columns
are set in SQL from each place's ``phones.resolve`` result rather than by running
``resolve_contacts`` over every row: that is pure Python per contact (the harness measures its
rate, ~5,000 contacts/s) and would spend minutes of the 15-minute budget. ``verify_resolution``
re-resolves a random sample with ``phones.resolve`` and fails the bench on any difference.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

log = logging.getLogger("benchmarks")

# (E.164 prefix, first free digit, free digits after it): every number prefix + lead + n digits
# is valid and maps to one place (checked at start on a sample), and the same number with
# INVALID_SUFFIX is not (a German number may be that long, so Berlin is not a place here).
PLACES = [
    ("+1212", "2", 6),
    ("+1312", "2", 6),
    ("+1303", "2", 6),
    ("+1213", "2", 6),
    ("+1808", "2", 6),
    ("+5255", "5", 7),
    ("+5511", "9", 8),
    ("+5411", "4", 7),
    ("+4420", "7", 7),
    ("+331", "4", 7),
    ("+3021", "0", 7),
    ("+3491", "4", 6),
    ("+3906", "4", 7),
    ("+2711", "4", 6),
    ("+202", "2", 7),
    ("+7495", "2", 6),
    ("+9714", "3", 6),
    ("+9221", "3", 7),
    ("+9111", "2", 7),
    ("+8802", "5", 7),
    ("+6221", "5", 7),
    ("+656", "3", 6),
    ("+632", "8", 7),
    ("+813", "3", 7),
    ("+822", "3", 7),
    ("+7423", "2", 6),
    ("+612", "9", 7),
    ("+649", "3", 6),
]
OPEN_PLACES = 8
CLOSED_PLACES = 2
INVALID_SUFFIX = "99"  # two digits too many: "not a valid number for its country"
OPT_OUT_SET = "campaigns:blacklist"

BENCH_CONFIG = {
    "calling_window": {"start": "09:00", "end": "20:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
    "max_attempts": 3,
    "caller_id": "+12125550100",
    "ivr_flow": {
        "entry": "greeting",
        "nodes": {
            "greeting": {"prompt": "prompts/greeting.wav", "next": ["menu"]},
            "menu": {"prompt": "prompts/menu.wav", "next": ["renew", "agent", "opt_out"]},
            "renew": {"prompt": "prompts/renew.wav", "next": []},
            "agent": {"prompt": "prompts/agent.wav", "next": []},
            "opt_out": {"prompt": "prompts/opt_out.wav", "next": []},
        },
    },
    "audio": [
        "prompts/greeting.wav",
        "prompts/menu.wav",
        "prompts/renew.wav",
        "prompts/agent.wav",
        "prompts/opt_out.wav",
    ],
}

CONTACTS_SQL = """
WITH places AS (
    SELECT * FROM unnest(%(prefix)s::text[], %(lead)s::text[], %(width)s::int[], %(base)s::bigint[],
                         %(zones)s::text[], %(jurisdiction)s::text[], %(keys)s::text[])
           WITH ORDINALITY AS p(prefix, lead, width, base, zones, jurisdiction, keys, idx)
), seq AS (
    SELECT g, mod(g, %(places)s) + 1 AS place, g / %(places)s AS slot, mod(g, 20) AS kind
    FROM generate_series(0::bigint, %(n)s::bigint - 1) AS g
)
INSERT INTO contacts (campaign_id, external_ref, phone, timezones, jurisdiction, window_keys, priority,
                      status, status_reason, dispatches, answer_affinity)
SELECT %(campaign_id)s, 'bench-' || s.g,
       p.prefix || p.lead || lpad((p.base + s.slot)::text, p.width, '0')
           || CASE WHEN s.kind = 0 THEN %(invalid_suffix)s ELSE '' END,
       CASE WHEN s.kind = 0 THEN NULL ELSE string_to_array(p.zones, ',') END,
       CASE WHEN s.kind = 0 THEN NULL ELSE p.jurisdiction END,
       CASE WHEN s.kind = 0 THEN '{}'::text[] ELSE string_to_array(p.keys, ',') END,
       mod(abs(hashint8(s.g)), 4),
       CASE WHEN s.kind = 0 THEN 'invalid' ELSE 'pending' END,
       CASE WHEN s.kind = 0 THEN %(invalid_reason)s END,
       CASE WHEN s.kind = 0 OR NOT %(history)s THEN 0 WHEN s.g < %(fourth_below)s THEN 4 ELSE 3 END,
       CASE WHEN %(history)s AND s.kind <> 0 THEN (0.5 + mod(abs(hashint8(s.g + 7)), 1000) / 1000.0)::real END
FROM seq s JOIN places p ON p.idx = s.place
"""

WINDOW_KEYS_SQL = """
INSERT INTO campaign_window_keys (campaign_id, window_key)
SELECT DISTINCT %(campaign_id)s::bigint, unnest(string_to_array(k, ','))
FROM unnest(%(keys)s::text[]) AS k
ON CONFLICT DO NOTHING
"""

# Dated a day back: a do-not-call list is loaded before a campaign runs. Entries from the last
# few minutes are re-checked on every poke (the blacklist watermark's overlap), which is right for
# the few opt-outs that arrive during a run, not for the whole list.
BLACKLIST_SQL = """
INSERT INTO blacklist (phone, campaign_id, reason, created_at)
SELECT phone, NULL, 'do_not_call', now() - interval '1 day' FROM contacts
WHERE campaign_id = %(campaign_id)s AND mod(substr(external_ref, 7)::bigint, 20) = 1
ON CONFLICT DO NOTHING
"""

REDIS_ONLY_SQL = """
SELECT phone FROM contacts WHERE campaign_id = %(campaign_id)s AND mod(substr(external_ref, 7)::bigint, 20) = 2
"""

# History of earlier runs: one completed dial task and one ingested call record per past
# attempt, 2 to 31 days old (outside every 24 h cap), ids that later dispatches continue.
HISTORY_TASKS_SQL = """
INSERT INTO dial_tasks (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, not_after,
                        claimed_at, sent_at, message_id, completed_at, outcome)
SELECT 'c' || c.campaign_id || '-' || c.id || '-' || k, c.campaign_id, c.id, c.phone, k,
       'scheduled__' || to_char(%(today)s::date - (2 + mod(c.id + k * 7, 30))::int, 'YYYY-MM-DD') || 'T09:00:00+00:00',
       'completed', t.at + interval '8 hours', t.at, t.at + interval '1 second', md5(c.id || '-' || k),
       t.at + interval '5 minutes', o.outcome
FROM contacts c
CROSS JOIN generate_series(1, c.dispatches) AS k
CROSS JOIN LATERAL (SELECT %(now)s::timestamptz - make_interval(days => 2 + mod(c.id + k * 7, 30)::int,
                                                               mins => mod(c.id * 13 + k, 600)::int) AS at) t
CROSS JOIN LATERAL (SELECT CASE WHEN h < 40 THEN 'answered' WHEN h < 50 THEN 'converted' WHEN h < 60 THEN 'voicemail'
                               WHEN h < 70 THEN 'busy' WHEN h < 90 THEN 'no_answer' ELSE 'failed' END AS outcome
                    FROM (SELECT mod(abs(hashint8(c.id * 8 + k)), 100) AS h) x) o
WHERE c.campaign_id = %(campaign_id)s AND c.dispatches > 0
"""

HISTORY_RECORDS_SQL = """
INSERT INTO call_records (dial_attempt_id, campaign_id, contact_id, phone, outcome, started_at, ended_at, duration_s,
                          local_hour, ingested_at, created_at)
SELECT x.id, x.campaign_id, x.contact_id, x.phone, x.outcome, x.started, x.started + make_interval(secs => x.dur),
       x.dur, extract(hour FROM x.started AT TIME ZONE x.zone)::smallint,
       x.started + make_interval(secs => x.dur + 60), x.started + make_interval(secs => x.dur)
FROM (
    SELECT 'c' || c.campaign_id || '-' || c.id || '-' || k AS id, c.campaign_id, c.id AS contact_id, c.phone,
           CASE WHEN h < 40 THEN 'answered' WHEN h < 50 THEN 'converted' WHEN h < 60 THEN 'voicemail'
                WHEN h < 70 THEN 'busy' WHEN h < 90 THEN 'no_answer' ELSE 'failed' END AS outcome,
           %(now)s::timestamptz - make_interval(days => 2 + mod(c.id + k * 7, 30)::int,
                                                mins => mod(c.id * 13 + k, 600)::int) + interval '30 seconds' AS started,
           CASE WHEN h < 50 THEN 20 + mod(h * 37, 280) WHEN h < 60 THEN 25 ELSE 0 END AS dur,
           c.timezones[1] AS zone
    FROM contacts c
    CROSS JOIN generate_series(1, c.dispatches) AS k
    CROSS JOIN LATERAL (SELECT mod(abs(hashint8(c.id * 8 + k)), 100) AS h) hh
    WHERE c.campaign_id = %(campaign_id)s AND c.dispatches > 0
) x
"""

ANSWER_MODEL_SQL = """
INSERT INTO answer_rate_by_hour (hour_of_week, calls, answered, rate)
SELECT h, 10000, (10000 * r)::int, r
FROM generate_series(0, 167) AS h, LATERAL (SELECT (0.25 + 0.15 * sin(h / 24.0 * 2 * pi()))::real AS r) x
ON CONFLICT (hour_of_week) DO NOTHING
"""

FILLER_SQL = """
INSERT INTO campaigns (slug, name, status, timezone, schedule, start_at, end_at, owner, tags, poke_interval_s,
                       max_in_flight, config)
SELECT 'catalog_' || lpad(g::text, 4, '0'), 'Catalog campaign ' || g,
       (ARRAY['scheduled', 'active', 'paused', 'draft', 'completed'])[1 + mod(g, 5)],
       (ARRAY['America/New_York', 'Europe/London', 'Asia/Tokyo', 'America/Chicago', 'Australia/Sydney',
              'America/Los_Angeles'])[1 + mod(g, 6)],
       CASE WHEN mod(g, 2) = 0 THEN (ARRAY['0 9 * * 1-5', '30 10 * * *', '0 14 * * 1', '15 8 1 * *'])[1 + mod(g / 2, 4)] END,
       %(now)s::timestamptz - make_interval(days => mod(g, 20)), %(now)s::timestamptz + make_interval(days => 10 + mod(g, 90)),
       (ARRAY['campaign-ops', 'sales-ops', 'collections-team'])[1 + mod(g, 3)],
       string_to_array((ARRAY['sales,pilot', 'collections,x-unknown', 'reminders,surveys',
                              'retention,notifications'])[1 + mod(g, 4)], ','),
       30 + mod(g, 5) * 30, 500,
       CASE WHEN mod(g, 3) = 0 THEN jsonb_build_object('expected_duration_s', 3600 * (1 + mod(g, 8))) ELSE '{}'::jsonb END
FROM generate_series(1, %(count)s) AS g
"""


@dataclass(frozen=True)
class Place:
    prefix: str
    lead: str
    width: int
    zones: tuple[str, ...]
    jurisdiction: str

    @property
    def keys(self) -> list[str]:
        return [f"{zone}|{self.jurisdiction}" for zone in self.zones]

    def number(self, slot: int, invalid: bool = False) -> str:
        return f"{self.prefix}{self.lead}{slot:0{self.width}d}{INVALID_SUFFIX if invalid else ''}"


def bench_policy():
    from include.campaigns.config import parse_config

    return parse_config(BENCH_CONFIG).policy


def plan_places(now: datetime, open_for: timedelta) -> tuple[list[Place], list[Place]]:
    """The places open now and until ``now + open_for`` under the bench window, and some closed ones."""
    from include.campaigns.calling_window import open_keys
    from include.campaigns.phones import resolve

    policy = bench_policy()
    open_places, closed_places = [], []
    for prefix, lead, width in PLACES:
        info = resolve(f"{prefix}{lead}{'5' * width}")
        place = Place(prefix, lead, width, info.timezones, info.jurisdiction)
        now_open = open_keys(policy, place.keys, now)
        later_open = open_keys(policy, place.keys, now + open_for)
        if len(now_open) == len(place.keys) and len(later_open) == len(place.keys):
            open_places.append(place)
        elif not now_open and not later_open:
            closed_places.append(place)
    if len(open_places) < 6:
        raise SystemExit(
            f"only {len(open_places)} place(s) have their calling window open for the next "
            f"{open_for}; the bench needs 6. Add places to benchmarks/data.py PLACES."
        )
    # Spread over as many distinct UTC offsets as possible.
    open_places.sort(key=lambda p: now.astimezone(_zone(p.zones[0])).utcoffset())
    step = max(1, len(open_places) // OPEN_PLACES)
    chosen = open_places[::step][:OPEN_PLACES]
    return chosen, closed_places[:CLOSED_PLACES]


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@dataclass
class CampaignData:
    id: int
    slug: str
    contacts: int
    eligible: int  # valid, on no list, in an open place
    pg_blacklisted: int
    redis_only: int
    invalid: int
    history: int = 0


class Generator:
    """Creates the bench campaigns; numbers never repeat across campaigns (caps count per number)."""

    def __init__(self, conn, redis, now: datetime, open_places: list[Place], closed_places: list[Place]):
        self.conn, self.redis, self.now = conn, redis, now
        self.open_places, self.closed_places = open_places, closed_places
        self.next_slot: dict[str, int] = {}
        self._loader = None

    def loader(self):
        """A superuser session without foreign-key triggers: integrity holds by construction
        (every campaign row is created before its contacts, every contact before its history)."""
        if self._loader is None:
            self._loader = loader_connection()
        return self._loader

    def close(self) -> None:
        if self._loader is not None:
            self._loader.close()
            self._loader = None

    def _reserve(self, place: Place, count: int) -> int:
        base = self.next_slot.get(place.prefix, 0)
        if base + count > 10**place.width:
            raise RuntimeError(f"place {place.prefix} ran out of numbers")
        self.next_slot[place.prefix] = base + count
        return base

    def campaign(
        self,
        slug: str,
        contacts: int,
        *,
        closed_share: bool = False,
        history_records: int = 0,
        max_in_flight: int = 1_000_000_000,
        status: str = "scheduled",
    ) -> CampaignData:
        from dev.seed import create_campaign

        places = list(self.open_places) + (list(self.closed_places) if closed_share else [])
        campaign_id = create_campaign(
            self.conn,
            slug,
            name=f"Bench {slug}",
            status=status,
            tz="UTC",
            start_at=self.now - timedelta(minutes=5),
            end_at=self.now + timedelta(days=1),
            tags=["pilot"],
            poke_interval_s=60,
            max_in_flight=max_in_flight,
            config=BENCH_CONFIG,
        )
        per_place = -(-contacts // len(places))
        valid = contacts - (contacts + 19) // 20
        fourth_below = 0
        if history_records:
            extra = history_records - 3 * valid
            if not 0 <= extra <= valid:
                raise ValueError("history must be 3 to 4 call records per valid contact")
            fourth_below = _first_g_with_valid_count(extra)
        self.loader().execute(
            CONTACTS_SQL,
            {
                "campaign_id": campaign_id,
                "n": contacts,
                "places": len(places),
                "prefix": [p.prefix for p in places],
                "lead": [p.lead for p in places],
                "width": [p.width for p in places],
                "base": [self._reserve(p, per_place) for p in places],
                "zones": [",".join(p.zones) for p in places],
                "jurisdiction": [p.jurisdiction for p in places],
                "keys": [",".join(p.keys) for p in places],
                "invalid_suffix": INVALID_SUFFIX,
                "invalid_reason": "invalid_phone: not a valid number for its country",
                "history": bool(history_records),
                "fourth_below": fourth_below,
            },
        )
        self.conn.execute(WINDOW_KEYS_SQL, {"campaign_id": campaign_id, "keys": [",".join(p.keys) for p in places]})
        self.conn.execute(BLACKLIST_SQL, {"campaign_id": campaign_id})
        phones = [r[0] for r in self.conn.execute(REDIS_ONLY_SQL, {"campaign_id": campaign_id})]
        pipe = self.redis.pipeline(transaction=False)
        for start in range(0, len(phones), 10_000):
            pipe.sadd(OPT_OUT_SET, *phones[start : start + 10_000])
        pipe.execute()
        counts = self.conn.execute(
            "SELECT count(*) FILTER (WHERE k = 0), count(*) FILTER (WHERE k = 1), count(*) FILTER (WHERE k = 2), "
            "count(*) FILTER (WHERE k > 2 AND window_keys <@ %(open)s::text[]) "
            "FROM (SELECT mod(substr(external_ref, 7)::bigint, 20) AS k, window_keys FROM contacts "
            "      WHERE campaign_id = %(cid)s) x",
            {"cid": campaign_id, "open": [k for p in self.open_places for k in p.keys]},
        ).fetchone()
        data = CampaignData(
            campaign_id,
            slug,
            contacts,
            eligible=counts[3],
            pg_blacklisted=counts[1],
            redis_only=counts[2],
            invalid=counts[0],
        )
        if history_records:
            data.history = self._history(campaign_id)
        return data

    def _history(self, campaign_id: int) -> int:
        """Dial tasks and call records in two connections at once: two cores, half the wait."""
        params = {"campaign_id": campaign_id, "now": self.now, "today": self.now.date()}
        errors: list[BaseException] = []

        def load(sql: str) -> None:
            try:
                with loader_connection() as conn:
                    conn.execute(sql, params)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(sql,)) for sql in (HISTORY_TASKS_SQL, HISTORY_RECORDS_SQL)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return self.conn.execute("SELECT count(*) FROM call_records WHERE campaign_id = %s", (campaign_id,)).fetchone()[
            0
        ]

    def answer_model(self) -> None:
        self.conn.execute(ANSWER_MODEL_SQL)

    def catalog_fillers(self, total: int) -> int:
        """Add campaigns until the catalog (every non-archived campaign) holds ``total``."""
        have = self.conn.execute("SELECT count(*) FROM campaigns WHERE status <> 'archived'").fetchone()[0]
        if total > have:
            self.conn.execute(FILLER_SQL, {"count": total - have, "now": self.now})
        return self.conn.execute("SELECT count(*) FROM campaigns WHERE status <> 'archived'").fetchone()[0]

    def vacuum(self) -> None:
        for table in ("contacts", "dial_tasks", "call_records", "blacklist", "campaigns", "campaign_window_keys"):
            self.conn.execute(f"VACUUM (ANALYZE) {table}")


SECONDARY_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
"""


class BulkLoad:
    """Load big tables the way a DBA would: secondary indexes dropped during the load and rebuilt
    after (two at a time, one per core), and foreign-key triggers off for the loading session.
    The schema ends up exactly as the migrations left it; only the load order differs."""

    def __init__(self, tables: list[str]):
        self.tables = tables
        self.indexes: list[tuple[str, str]] = []

    def __enter__(self) -> BulkLoad:
        with loader_connection() as admin:
            self.indexes = admin.execute(SECONDARY_INDEXES_SQL, (self.tables,)).fetchall()
            for name, _ in self.indexes:
                admin.execute(f"DROP INDEX {name}")
        return self

    def __exit__(self, *exc) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def build(definition: str) -> None:
            with loader_connection() as conn:
                conn.execute(definition)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(build, [d for _, d in self.indexes]))


def loader_connection():
    import psycopg

    from benchmarks.env import superuser_dsn

    conn = psycopg.connect(superuser_dsn(_database()), autocommit=True)
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET maintenance_work_mem = '512MB'")
    return conn


def _database() -> str:
    import os

    return json.loads(os.environ["AIRFLOW_CONN_CAMPAIGNS_DB"])["schema"]


def _first_g_with_valid_count(valid: int) -> int:
    """The smallest G such that exactly ``valid`` of g in [0, G) are valid (g mod 20 != 0)."""
    full, rest = divmod(valid, 19)
    return full * 20 + (rest + 1 if rest else 0)


def verify_resolution(conn, campaign_ids: list[int], sample: int) -> dict:
    """Re-resolve a random sample with phones.resolve; the stored columns must match exactly."""
    from include.campaigns.phones import InvalidPhone, resolve

    rows = conn.execute(
        "SELECT phone, timezones, jurisdiction, window_keys, status, status_reason FROM contacts "
        "WHERE campaign_id = ANY(%s) ORDER BY random() LIMIT %s",
        (campaign_ids, sample),
    ).fetchall()
    mismatches = []
    started = time.perf_counter()
    for phone, zones, jurisdiction, keys, status, reason in rows:
        try:
            info = resolve(phone, fallback_timezone="UTC")
            expected: tuple = (
                list(info.timezones),
                info.jurisdiction,
                [f"{z}|{info.jurisdiction}" for z in info.timezones],
                "pending",
                None,
            )
        except InvalidPhone as exc:
            expected = (None, None, [], "invalid", f"invalid_phone: {exc}")
        if (zones, jurisdiction, keys, status, reason) != expected:
            mismatches.append((phone[-4:], expected, (zones, jurisdiction, keys, status, reason)))
    elapsed = time.perf_counter() - started
    if mismatches:
        raise SystemExit(
            f"{len(mismatches)} of {len(rows)} sampled contacts differ from phones.resolve, e.g. {mismatches[:3]}"
        )
    return {"sampled": len(rows), "resolve_per_s": len(rows) / elapsed if elapsed else None}
