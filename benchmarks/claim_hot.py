"""What HOT updates would save the claim and the mark-sent: the claim statement and patched copies
of it, side by side on the same contacts, EXPLAIN ANALYZE per contact.

    eval "$(python -m dev.stack env)"; python -m benchmarks.claim_hot [contacts]

A HOT update writes no index entry, but PostgreSQL takes it only when no column that an index
names (in its key, an expression or its predicate) changes value, and when the row's page has
room for the new version. The claim's update of ``contacts`` fails the first test (``status`` is
in three indexes, ``attempts`` in the claim order's key) and, on a freshly loaded campaign, the
second (a page filled by COPY has no room). So each variant runs on a copy of one campaign's
contacts in a schema of its own (``claim_hot``, first on the search path, so that the statements'
``contacts`` and ``dial_tasks`` are the copies), built with the same indexes:

- ``as is``: the claim statement unchanged, pages full (fillfactor 100, as loaded);
- ``state off the indexes, full pages``: the claim's update of the contact changed to write only
  columns no index names (what in-flight state kept outside the indexes would write);
- ``state off the indexes, pages with room``: the same on a copy with fillfactor 80;

and for the mark-sent, on the dial tasks that claim wrote (committed in the copy):

- ``mark sent as is``: ``status`` claimed -> sent, non-HOT (status is in three index predicates);
- ``mark sent, no status change``: only ``sent_at`` and ``message_id``.

The copies are dropped at the end; nothing of the campaign's own rows changes.
"""

from __future__ import annotations

import sys

from benchmarks.claim_profile import components

SCHEMA = "claim_hot"
_OFF_INDEX_UPDATE = (
    "SET status = 'in_flight', attempts = c.attempts + 1, dispatches = c.dispatches + 1,\n"
    "        last_attempt_at = now(), next_attempt_at = NULL",
    "SET dispatches = c.dispatches + 1,\n        last_attempt_at = now(), next_attempt_at = NULL",
)
_MARK_SENT_NO_STATUS = ("SET status = 'sent', sent_at = now()", "SET sent_at = now()")


def _copy(conn, campaign_id: int, fillfactor: int, tasks_fillfactor: int, shuffled: bool) -> None:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    conn.execute(
        f"CREATE TABLE {SCHEMA}.contacts (LIKE public.contacts INCLUDING ALL) WITH (fillfactor = {int(fillfactor)})"
    )
    # As loaded, a campaign's rows lie in id order, and so are claimed when priority and score tie
    # (the claim takes every row of a page in turn); shuffled, neighbours in claim order are far apart.
    order = "random()" if shuffled else "id"
    conn.execute(
        f"INSERT INTO {SCHEMA}.contacts SELECT * FROM public.contacts WHERE campaign_id = %s ORDER BY {order}",
        (campaign_id,),
    )
    conn.execute(
        f"CREATE TABLE {SCHEMA}.dial_tasks (LIKE public.dial_tasks INCLUDING ALL) "
        f"WITH (fillfactor = {int(tasks_fillfactor)})"
    )
    conn.execute(f"ANALYZE {SCHEMA}.contacts")


def _hot(conn, table: str) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_force_next_flush()")
    row = conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s",
        (SCHEMA, table),
    ).fetchone()
    return row[0], row[1]


def _explain(conn, sql: str, params: dict) -> list[str]:
    return [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, prepare=False).fetchall()]


def variant(
    conn,
    campaign_id: int,
    claim_sql: str,
    mark_sql: str,
    chunk: int,
    *,
    fillfactor: int = 100,
    tasks_fillfactor: int = 100,
    shuffled: bool = False,
) -> dict:
    """One chunk claimed (committed in the copy) then marked sent, each under EXPLAIN ANALYZE."""
    import itertools
    from datetime import datetime, timedelta, timezone

    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.claim import Claimer
    from include.campaigns.db import fetch_all
    from include.campaigns.runs import RunContext

    _copy(conn, campaign_id, fillfactor, tasks_fillfactor, shuffled)
    conn.execute(f"SET search_path = {SCHEMA}, public")
    try:
        campaign = load_campaign(conn, campaign_id)
        now = datetime.now(timezone.utc)
        run = RunContext(
            campaign_id=campaign_id, run_id="bench_hot", run_start=now, run_end=now + timedelta(days=1), live=True
        )
        keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign_id})]
        opened = open_keys(campaign.config.policy, keys, now)
        out: dict = {}
        # A warm-up chunk, committed as a claim is: the measured chunk meets the pages in the
        # state the claims before it left them. Both from one walk: a variant that leaves the
        # status alone would otherwise be offered the warm-up's contacts again.
        claimer = Claimer(conn, campaign, campaign.config, run, opened, now, page=2 * chunk)
        picked = [key[3] for key in itertools.islice(claimer._next, 2 * chunk)]
        for label, ids in (("warm-up", picked[:chunk]), ("measured", picked[chunk:])):
            before = _hot(conn, "contacts")
            with conn.transaction():
                plan = _explain(conn, claim_sql, {**claimer.rules, **claimer.task, "ids": ids})
            after = _hot(conn, "contacts")
            tasks = [r[0] for r in conn.execute("SELECT dial_attempt_id FROM dial_tasks WHERE sent_at IS NULL")]
            t_before = _hot(conn, "dial_tasks")
            with conn.transaction():
                mark = _explain(conn, mark_sql, {"ids": tasks, "message_ids": [f"m-{t}" for t in tasks]})
            t_after = _hot(conn, "dial_tasks")
            if label == "measured":
                out = {
                    "claimed": len(tasks),
                    "claim": components(plan),
                    "hot": (after[1] - before[1], after[0] - before[0]),
                    "mark": components(mark),
                    "mark_hot": (t_after[1] - t_before[1], t_after[0] - t_before[0]),
                }
        return out
    finally:
        conn.execute("RESET search_path")
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def measure(contacts: int = 20_000, chunk: int = 1000) -> dict:
    from benchmarks.claim_profile import _campaign
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db, load_sql
    from include.campaigns.resolution import resolve_contacts

    claim, mark = load_sql("dial_tasks_claim"), load_sql("dial_tasks_mark_sent")
    off_index = claim.replace(*_OFF_INDEX_UPDATE)
    no_status = mark.replace(*_MARK_SENT_NO_STATUS)
    if off_index == claim or no_status == mark:
        raise RuntimeError("the claim or mark-sent statement changed: update the patched copies here")
    with campaign_db() as conn:
        campaign_id = _campaign(conn, contacts)
        resolve_contacts(conn, load_campaign(conn, campaign_id))
        try:
            return {
                "as is (pages full)": variant(conn, campaign_id, claim, mark, chunk),
                "state off the indexes, pages full": variant(conn, campaign_id, off_index, no_status, chunk),
                "state off the indexes, fillfactor 80": variant(
                    conn, campaign_id, off_index, no_status, chunk, fillfactor=80, tasks_fillfactor=80
                ),
                "state off the indexes, fillfactor 80, rows shuffled": variant(
                    conn, campaign_id, off_index, no_status, chunk, fillfactor=80, tasks_fillfactor=80, shuffled=True
                ),
                "as is, rows shuffled": variant(conn, campaign_id, claim, mark, chunk, shuffled=True),
                "state off the indexes, fillfactor 50": variant(
                    conn, campaign_id, off_index, no_status, chunk, fillfactor=50, tasks_fillfactor=50
                ),
            }
        finally:
            conn.execute("DELETE FROM campaigns WHERE id = %s", (campaign_id,))


def lines(result: dict) -> list[str]:
    out = []
    for name, v in result.items():
        n = max(v["claimed"], 1)
        claim = v["claim"]
        update = sum(ms for k, ms in claim.items() if k.startswith("Update on"))
        insert = sum(ms for k, ms in claim.items() if k.startswith("Insert on"))
        mark = sum(ms for k, ms in v["mark"].items() if k.startswith("Update on"))
        out.append(
            f"{name}: {v['claimed']} contacts; claim total {1000 * claim['total'] / n:.1f} µs/contact "
            f"(update of contacts {1000 * update / n:.1f}, HOT {v['hot'][0]} of {v['hot'][1]}; insert of dial "
            f"tasks {1000 * insert / n:.1f}; read, lock and re-check {1000 * claim['read, lock and re-check'] / n:.1f}); "
            f"mark sent total {1000 * v['mark']['total'] / n:.1f} µs/task (update {1000 * mark / n:.1f}, "
            f"HOT {v['mark_hot'][0]} of {v['mark_hot'][1]})"
        )
    return out


def main(contacts: int = 20_000) -> None:
    print("\n".join(lines(measure(contacts))))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
