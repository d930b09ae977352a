"""The floor under any crash-safe claim on this machine: the bare PostgreSQL cost per row of what
every claim must do at least, on 1,000-row chunks of a table shaped like ``contacts``.

    eval "$(python -m dev.stack env)"; python -m benchmarks.claim_floor [rows] [chunks]

A claim that survives a crash must, per contact, lock the row (so that two dispatchers never take
it), write that it is taken, and write the dial task, then commit, all before the send. The
statements here are those steps and nothing else: no eligibility check, no trigger, no
round trip counted. Each is timed inside the server (``EXPLAIN (ANALYZE, TIMING OFF)``: the
statement's execution time, without the per-node clock reads), on chunks of rows picked at random,
as the claim order picks them; the commit is timed from the client, less the commit of an empty
transaction.
Everything lives in a schema of its own (``claim_floor``), dropped at the end.

The rows:

- lock by primary key: ``SELECT ... WHERE id = ANY(ids) FOR UPDATE SKIP LOCKED``;
- HOT update: one column that no index names, on pages with room (fillfactor 80), checked HOT
  in ``pg_stat_user_tables``;
- the same update on full pages (fillfactor 100, as a freshly loaded ``contacts`` is): no room
  on the page, so it is not HOT although no index names the column;
- non-HOT update: a column in an index key, one index beside the primary key;
- non-HOT update with the six indexes ``contacts`` has (the claim's status change today);
- insert into a table without an index; with one index (a text primary key, as dial_tasks');
  with the six indexes ``dial_tasks`` has;
- commit of a transaction that wrote a chunk;
- the minimal claim: lock, HOT update and insert in one statement, as the claim is written.
"""

from __future__ import annotations

import random
import statistics
import sys
import time

SCHEMA = "claim_floor"
CHUNK = 1000
WARM_UP = 2  # chunks per step not counted
ROUNDS = 3

_SETUP = """
DROP SCHEMA IF EXISTS {schema} CASCADE;
CREATE SCHEMA {schema};
-- The columns of contacts, filled as a resolved campaign's are.
CREATE TABLE {schema}.contacts_hot (
    id bigint PRIMARY KEY, campaign_id bigint NOT NULL, external_ref text, phone text NOT NULL,
    timezone text, region text, timezones text[], jurisdiction text, window_keys text[],
    priority integer NOT NULL DEFAULT 0, status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0, dispatches integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz, last_attempt_at timestamptz, last_outcome text, status_reason text,
    created_at timestamptz NOT NULL DEFAULT now(), answer_affinity real, consent_at timestamptz,
    consent_basis text, claimed integer NOT NULL DEFAULT 0
) WITH (fillfactor = 80);
INSERT INTO {schema}.contacts_hot (id, campaign_id, external_ref, phone, timezone, timezones, jurisdiction,
                                   window_keys, priority, answer_affinity)
SELECT g, 1, 'ref-' || g, '+1312' || lpad((5550000 + g)::text, 7, '0'), 'America/Chicago',
       ARRAY['America/Chicago'], 'US-IL', ARRAY['America/Chicago|US-IL'], g % 3, 0.5 + (g % 100) / 100.0
FROM generate_series(1, {rows}) g;
-- The same rows on full pages, with the indexes contacts has.
CREATE TABLE {schema}.contacts_full (LIKE {schema}.contacts_hot INCLUDING DEFAULTS);
ALTER TABLE {schema}.contacts_full ADD PRIMARY KEY (id);
INSERT INTO {schema}.contacts_full SELECT * FROM {schema}.contacts_hot;
CREATE UNIQUE INDEX ON {schema}.contacts_full (campaign_id, phone);
CREATE INDEX ON {schema}.contacts_full (campaign_id, status);
CREATE INDEX ON {schema}.contacts_full (phone);
CREATE INDEX ON {schema}.contacts_full (campaign_id, id) WHERE window_keys IS NULL AND status = 'pending';
CREATE INDEX ON {schema}.contacts_full
    (campaign_id, (timezones[1]), (-priority), (-coalesce(answer_affinity, 1)), attempts, id)
    WHERE status IN ('pending', 'failed');
-- One index beside the primary key, on pages with room: a non-HOT update that could have been HOT.
CREATE TABLE {schema}.contacts_one (LIKE {schema}.contacts_hot INCLUDING DEFAULTS) WITH (fillfactor = 80);
ALTER TABLE {schema}.contacts_one ADD PRIMARY KEY (id);
INSERT INTO {schema}.contacts_one SELECT * FROM {schema}.contacts_hot;
CREATE INDEX ON {schema}.contacts_one (attempts);
-- Dial tasks: no index; a text primary key; the indexes dial_tasks has.
CREATE TABLE {schema}.tasks_bare (
    dial_attempt_id text NOT NULL, campaign_id bigint NOT NULL, contact_id bigint NOT NULL, phone text NOT NULL,
    attempt integer NOT NULL, run_id text NOT NULL, status text NOT NULL DEFAULT 'claimed',
    not_after timestamptz NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz,
    message_id text, completed_at timestamptz, outcome text
);
CREATE TABLE {schema}.tasks_pk (LIKE {schema}.tasks_bare INCLUDING DEFAULTS);
ALTER TABLE {schema}.tasks_pk ADD PRIMARY KEY (dial_attempt_id);
CREATE TABLE {schema}.tasks_full (LIKE {schema}.tasks_bare INCLUDING DEFAULTS);
ALTER TABLE {schema}.tasks_full ADD PRIMARY KEY (dial_attempt_id);
CREATE INDEX ON {schema}.tasks_full (contact_id);
CREATE INDEX ON {schema}.tasks_full (campaign_id, run_id);
CREATE INDEX ON {schema}.tasks_full (phone, claimed_at) WHERE status <> 'expired';
CREATE INDEX ON {schema}.tasks_full (phone, claimed_at) WHERE status = 'expired';
CREATE INDEX ON {schema}.tasks_full (campaign_id, not_after) WHERE status IN ('claimed', 'sent');
-- The dial tasks already in a busy ledger: inserts land in indexes of realistic depth.
INSERT INTO {schema}.tasks_full (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, status, not_after)
SELECT 'h' || g, 1, g, '+1312' || lpad((5550000 + g)::text, 7, '0'), 1, 'old', 'expired', now()
FROM generate_series(1, {rows}) g;
"""

_INSERT = """
INSERT INTO {table} (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id, not_after)
SELECT 'c1-' || c.id || '-' || %(n)s, c.campaign_id, c.id, c.phone, 1, 'floor', now() + interval '1 hour'
FROM {schema}.contacts_hot c WHERE c.id = ANY(%(ids)s::bigint[])
"""

STEPS = {
    "lock by primary key (FOR UPDATE SKIP LOCKED)": (
        f"SELECT id FROM {SCHEMA}.contacts_hot WHERE id = ANY(%(ids)s::bigint[]) FOR UPDATE SKIP LOCKED",
        f"{SCHEMA}.contacts_hot",
    ),
    "read by primary key (no lock)": (
        f"SELECT id FROM {SCHEMA}.contacts_hot WHERE id = ANY(%(ids)s::bigint[])",
        None,
    ),
    "HOT update, one unindexed column (pages with room)": (
        f"UPDATE {SCHEMA}.contacts_hot SET claimed = claimed + 1 WHERE id = ANY(%(ids)s::bigint[])",
        f"{SCHEMA}.contacts_hot",
    ),
    "same update, full pages (fillfactor 100, 6 indexes: not HOT)": (
        f"UPDATE {SCHEMA}.contacts_full SET claimed = claimed + 1 WHERE id = ANY(%(ids)s::bigint[])",
        f"{SCHEMA}.contacts_full",
    ),
    "non-HOT update, an indexed column (1 index + primary key)": (
        f"UPDATE {SCHEMA}.contacts_one SET attempts = attempts + 1 WHERE id = ANY(%(ids)s::bigint[])",
        f"{SCHEMA}.contacts_one",
    ),
    "non-HOT update, contacts' 6 indexes (the claim's status change)": (
        f"UPDATE {SCHEMA}.contacts_full SET status = 'in_flight', attempts = attempts + 1 "
        f"WHERE id = ANY(%(ids)s::bigint[])",
        f"{SCHEMA}.contacts_full",
    ),
    "insert, no index": (_INSERT.format(table=f"{SCHEMA}.tasks_bare", schema=SCHEMA), None),
    "insert, one index (text primary key)": (_INSERT.format(table=f"{SCHEMA}.tasks_pk", schema=SCHEMA), None),
    "insert, dial_tasks' 6 indexes": (_INSERT.format(table=f"{SCHEMA}.tasks_full", schema=SCHEMA), None),
    "minimal claim: lock, HOT update, insert (no index), one statement": (
        f"""WITH picked AS (
                SELECT id FROM {SCHEMA}.contacts_hot WHERE id = ANY(%(ids)s::bigint[]) FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE {SCHEMA}.contacts_hot c SET claimed = c.claimed + 1
                WHERE c.id = ANY(ARRAY(SELECT id FROM picked))
                RETURNING c.id, c.campaign_id, c.phone
            )
            INSERT INTO {SCHEMA}.tasks_bare (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id,
                                             not_after)
            SELECT 'c1-' || id || '-' || %(n)s, campaign_id, id, phone, 1, 'floor', now() + interval '1 hour'
            FROM claimed""",
        f"{SCHEMA}.contacts_hot",
    ),
    "today's writes: lock, non-HOT update (6 indexes), insert (6 indexes), one statement": (
        f"""WITH picked AS (
                SELECT id FROM {SCHEMA}.contacts_full WHERE id = ANY(%(ids)s::bigint[]) FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE {SCHEMA}.contacts_full c SET status = 'in_flight', attempts = c.attempts + 1
                WHERE c.id = ANY(ARRAY(SELECT id FROM picked))
                RETURNING c.id, c.campaign_id, c.phone
            )
            INSERT INTO {SCHEMA}.tasks_full (dial_attempt_id, campaign_id, contact_id, phone, attempt, run_id,
                                             not_after)
            SELECT 'd1-' || id || '-' || %(n)s, campaign_id, id, phone, 1, 'floor', now() + interval '1 hour'
            FROM claimed""",
        f"{SCHEMA}.contacts_full",
    ),
}


def _execution_ms(conn, sql: str, params: dict) -> float:
    plan = conn.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) " + sql, params, prepare=False).fetchall()
    line = next(r[0] for r in plan if r[0].startswith("Execution Time"))
    return float(line.split(":")[1].split()[0])


def _hot(conn, table: str) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_force_next_flush()")
    schema, name = table.split(".")
    row = conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s",
        (schema, name),
    ).fetchone()
    return row[0], row[1]


def _round_trip_ms(conn) -> float:
    """A commit of a transaction that wrote nothing: what a commit costs before its writes."""
    times = []
    for _ in range(50):
        conn.execute("BEGIN")
        started = time.perf_counter()
        conn.execute("COMMIT")
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def measure(rows: int = 200_000, chunks: int = 10) -> dict:
    """Per step: µs per row (median over chunks, each committed), and for updates how many were HOT."""
    import psycopg

    from include.campaigns.db import campaign_db

    with campaign_db() as conn:
        conn.execute(_SETUP.format(schema=SCHEMA, rows=int(rows)), prepare=False)
        conn.execute(f"ANALYZE {SCHEMA}.contacts_hot, {SCHEMA}.contacts_full, {SCHEMA}.contacts_one")
        chunks = max(1, min(chunks, rows // CHUNK - WARM_UP))  # every chunk rows of its own
        ids = list(range(1, rows + 1))
        random.Random(14).shuffle(ids)
        picks = [sorted(ids[i * CHUNK : (i + 1) * CHUNK]) for i in range(chunks + WARM_UP)]
        out: dict = {"rows": rows, "chunk": CHUNK, "steps": {}}
        try:
            rt = _round_trip_ms(conn)
            commits: list[float] = []
            samples: dict[str, list[float]] = {name: [] for name in STEPS}
            hots: dict[str, list[int]] = {}
            # Rounds over every step, so that a moment of load elsewhere on the machine shifts
            # every step alike, not one; each figure is the median over rounds and chunks.
            for r in range(ROUNDS):
                for name, (sql, hot_table) in STEPS.items():
                    update = sql.lstrip().upper().startswith(("UPDATE", "WITH"))  # writes a contact
                    before = _hot(conn, hot_table) if hot_table and update else None
                    # The first chunks warm the cache and are not counted.
                    for n, chunk in enumerate(picks):
                        conn.execute("BEGIN")
                        ms = _execution_ms(conn, sql, {"ids": chunk, "n": r * len(picks) + n})
                        started = time.perf_counter()
                        conn.execute("COMMIT")
                        if n >= WARM_UP:
                            samples[name].append(1000 * ms / len(chunk))
                            if update:
                                commits.append(max(1000 * (time.perf_counter() - started) - 1000 * rt, 0) / len(chunk))
                    if before is not None and hot_table:
                        after = _hot(conn, hot_table)
                        done = hots.setdefault(name, [0, 0])
                        done[0] += after[1] - before[1]
                        done[1] += after[0] - before[0]
                    # Each update step starts from the same rows as loaded: put back what the last
                    # one changed, and vacuum what it left.
                    conn.execute(f"UPDATE {SCHEMA}.contacts_full SET status = 'pending' WHERE status <> 'pending'")
                    conn.execute(f"VACUUM {SCHEMA}.contacts_hot, {SCHEMA}.contacts_full, {SCHEMA}.contacts_one")
            for name, values in samples.items():
                hot = hots.get(name)
                out["steps"][name] = {"us": statistics.median(values), "hot": tuple(hot) if hot else None}
            out["steps"]["commit of a chunk's writes (client clock, less an empty commit)"] = {
                "us": statistics.median(commits),
                "hot": None,
            }
            out["round_trip_ms"] = rt
        finally:
            try:
                conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            except psycopg.Error:
                pass
    return out


def lines(result: dict) -> list[str]:
    out = [f"Floor, {result['chunk']}-row chunks of a {result['rows']:,}-row table shaped like contacts (µs per row):"]
    for name, step in result["steps"].items():
        hot = f"  (HOT: {step['hot'][0]} of {step['hot'][1]})" if step["hot"] else ""
        out.append(f"  {name + ':':<70}{step['us']:6.2f}{hot}")
    return out


def notes(result: dict) -> list[str]:
    """One line for make bench's details."""
    parts = []
    for name, step in result["steps"].items():
        hot = f" [HOT {step['hot'][0]} of {step['hot'][1]}]" if step["hot"] else ""
        parts.append(f"{name} {step['us']:.1f}{hot}")
    return [
        f"Claim floor (bare statements on {result['chunk']}-row chunks of a {result['rows']:,}-row table shaped "
        f"like contacts, µs per row, median of 3 rounds of chunks): {'; '.join(parts)}."
    ]


def main(rows: int = 200_000, chunks: int = 10) -> None:
    print("\n".join(lines(measure(rows, chunks))))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
