"""The real-time opt-out set in Redis, a mirror of PostgreSQL's global blacklist.

PostgreSQL is the record: every entry there is E.164 (a CHECK constraint refuses anything else).
Redis holds the active global entries, in the same E.164 form, so that other campaigns see an
opt-out within seconds of its ingest; every send checks both. Redis being down never blocks a
campaign: PostgreSQL's list still applies and a warning is logged.

    python -m include.campaigns.blacklist [sync]   # make the Redis set equal to PostgreSQL's
    python -m include.campaigns.blacklist normalize # bring set-aside rows back, in E.164
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from include.campaigns.phones import DEFAULT_REGION, E164_SHAPE, InvalidPhone, mask, normalize, normalize_or_none
from include.campaigns.resources import REDIS_CONN_ID

log = logging.getLogger(__name__)

OPT_OUT_SET = "campaigns:blacklist"
# When each opt-out was last written to Redis (a sorted set scored by time). A sync never drops
# a member written within RECENT_GRACE_S: its PostgreSQL row may be committing at that moment.
RECENT_SET = "campaigns:blacklist:recent"
RECENT_GRACE_S = 3600
REDIS_CHUNK = 10_000


def _client():
    from airflow.providers.redis.hooks.redis import RedisHook

    return RedisHook(redis_conn_id=REDIS_CONN_ID).get_conn()


class OptOutScreen:
    """The Redis opt-out set, asked over one connection for as long as it answers: a dispatch asks
    once per chunk, and a new client per chunk cost a connection lookup and a connect each time."""

    def __init__(self) -> None:
        self._client: Any = None

    def blocked(self, phones: list[str]) -> set[str] | None:
        """The phones (E.164) on the set, in one round trip; None when Redis is unreachable."""
        if not phones:
            return set()
        try:
            if self._client is None:
                self._client = _client()
            flags = self._client.smismember(OPT_OUT_SET, phones)
        except Exception as exc:  # redis.ConnectionError, TimeoutError, auth errors: all mean "no answer"
            self._client = None  # a fresh client and connection at the next ask
            log.warning(
                "Redis opt-out set unavailable (%s); checking the PostgreSQL blacklist only", exc.__class__.__name__
            )
            return None
        return {phone for phone, flag in zip(phones, flags) if flag}


def _normalized(phones: list[str]) -> list[str]:
    out = []
    for phone in phones:
        try:
            out.append(normalize(phone))
        except InvalidPhone as exc:
            log.warning("Not an opt-out a number can match (%s): %s", exc.reason, mask(phone))
    return out


def add_e164(client, phones, *, recent: bool) -> None:
    """SADD numbers already in E.164, in chunks; ``recent`` also stamps them in RECENT_SET, in
    the same MULTI, so no sync can see one without the other."""
    phones = list(phones)
    now = time.time()
    pipe = client.pipeline(transaction=recent)
    for start in range(0, len(phones), REDIS_CHUNK):
        chunk = phones[start : start + REDIS_CHUNK]
        pipe.sadd(OPT_OUT_SET, *chunk)
        if recent:
            pipe.zadd(RECENT_SET, dict.fromkeys(chunk, now))
    pipe.execute()


def add_opt_outs(phones: list[str]) -> bool:
    """Record opt-outs in Redis at once, normalized to E.164; PostgreSQL already has them (or is
    committing them), so a failure only warns."""
    phones = _normalized(phones)
    if not phones:
        return True
    try:
        add_e164(_client(), phones, recent=True)
    except Exception as exc:
        log.warning(
            "Could not add %d opt-out(s) to Redis (%s); the next blacklist sync will",
            len(phones),
            exc.__class__.__name__,
        )
        return False
    return True


def remove_opt_outs(phones: list[str]) -> None:
    """Take numbers off the Redis set; only for tooling that resets data (the demo), never dispatch."""
    phones = [p for p in (normalize_or_none(p) for p in phones) if p] + list(phones)
    if phones:
        client = _client()
        client.srem(OPT_OUT_SET, *phones)
        client.zrem(RECENT_SET, *phones)


def sync_from_postgres(conn) -> int:
    """Make the Redis set equal to PostgreSQL's active global entries; return how many there are.

    Entries that expired or were deleted leave Redis; members not in E.164 are replaced by
    their E.164 form. The order is what keeps a new opt-out: ingest commits to PostgreSQL, then
    writes Redis. The Redis set is copied (one atomic SUNIONSTORE) *before* PostgreSQL is read,
    so every member of the copy that ingest wrote was committed before the read and is in its
    result; a member written after the copy is not in it and is never removed. Only members of
    the copy that PostgreSQL does not hold are removed, and not those written within
    RECENT_GRACE_S (a writer that reaches Redis before its commit is covered too). Working
    keys live in Redis, so memory here stays one chunk, whatever the set's size.
    """
    from include.campaigns.db import load_sql

    client = _client()
    began = time.time() - CLOCK_SKEW_S
    token = uuid.uuid4().hex
    before, keep, stale = (f"{OPT_OUT_SET}:sync:{token}:{name}" for name in ("before", "keep", "stale"))
    try:
        client.sunionstore(before, [OPT_OUT_SET])
        client.expire(before, 3600)

        active = 0
        with conn.transaction(), conn.cursor(name=f"blacklist_sync_{token}") as cur:
            cur.execute(load_sql("blacklist_global_active"))
            while rows := cur.fetchmany(REDIS_CHUNK):
                phones = [r[0] for r in rows]
                active += len(phones)
                pipe = client.pipeline(transaction=False)
                pipe.sadd(keep, *phones)
                pipe.sadd(OPT_OUT_SET, *phones)
                pipe.execute()

        client.zremrangebyscore(RECENT_SET, "-inf", time.time() - RECENT_GRACE_S)
        recent = client.zrange(RECENT_SET, 0, -1)
        for start in range(0, len(recent), REDIS_CHUNK):
            client.sadd(keep, *recent[start : start + REDIS_CHUNK])

        client.sdiffstore(stale, [before, keep])
        removed = _remove_stale(client, stale, began)
    finally:
        client.delete(before, keep, stale)
    log.info(
        "Redis opt-out set synced: %d active global entr%s, %d stale member(s) removed",
        active,
        "y" if active == 1 else "ies",
        removed,
    )
    return active


# SREM the given members unless one was written (stamped in RECENT_SET) after the sync began: an
# opt-out re-added while the sync ran must survive it. A script, so no write slips in between.
_SREM_UNLESS_RECENT = """
local removed = 0
for i = 2, #ARGV do
    local stamped = redis.call('ZSCORE', KEYS[2], ARGV[i])
    if (not stamped) or tonumber(stamped) < tonumber(ARGV[1]) then
        removed = removed + redis.call('SREM', KEYS[1], ARGV[i])
    end
end
return removed
"""
CLOCK_SKEW_S = 300  # hosts stamp RECENT_SET with their own clocks


def _remove_stale(client, stale: str, began: float) -> int:
    """Remove the stale members chunk by chunk; one not in E.164 is first re-added in its E.164
    form, stamped recent: it was someone's opt-out, and PostgreSQL decides at a later sync."""
    script = client.register_script(_SREM_UNLESS_RECENT)
    removed = 0
    cursor = 0
    while True:
        cursor, members = client.sscan(stale, cursor, count=REDIS_CHUNK)
        if members:
            texts = [m.decode() if isinstance(m, bytes) else m for m in members]
            malformed = [t for t in texts if not E164_SHAPE.fullmatch(t)]
            if malformed:
                fixed = _normalized(malformed)
                if fixed:
                    add_e164(client, fixed, recent=True)
            removed += script(keys=[OPT_OUT_SET, RECENT_SET], args=[repr(began), *texts])
        if cursor == 0:
            return removed


def normalize_rejected(conn, default_region: str | None = DEFAULT_REGION) -> dict[str, int]:
    """Bring the rows in blacklist_rejected that phonenumbers can read back onto the blacklist,
    in E.164 (merged with an entry already there: the later expiry wins, none beats any); those
    it cannot read stay there with the reason. Runs inside the caller's transaction if any."""
    from include.campaigns.db import execute, fetch_all, fetch_one

    rows = fetch_all(conn, "blacklist_rejected_all")
    back: list[tuple] = []
    kept: dict[str, list[int]] = {}
    for row in rows:
        try:
            back.append(
                (
                    row["id"],
                    normalize(row["phone"], default_region),
                    row["campaign_id"],
                    row["reason"],
                    row["expires_at"],
                )
            )
        except InvalidPhone as exc:
            kept.setdefault(exc.reason, []).append(row["id"])
    with conn.transaction():
        if back:
            execute(conn, "blacklist_incoming_create")
            with (
                conn.cursor() as cur,
                cur.copy("COPY blacklist_incoming (phone, campaign_id, reason, expires_at) FROM STDIN") as copy,
            ):
                for entry in back:
                    copy.write_row(entry[1:])
            fetch_one(conn, "blacklist_incoming_merge", {"reason": None, "campaign_id": None, "expires_at": None})
            execute(conn, "blacklist_rejected_delete", {"ids": [row[0] for row in back]})
        for reason, ids in kept.items():
            execute(conn, "blacklist_rejected_refuse", {"ids": ids, "reason": reason})
    unreadable = sum(len(ids) for ids in kept.values())
    if unreadable:
        log.warning(
            "%d blacklist row(s) are not readable numbers (%s); they stay in blacklist_rejected "
            "and block, at send time, every number whose digits end with theirs",
            unreadable,
            ", ".join(f"{k}: {len(v)}" for k, v in sorted(kept.items())),
        )
    return {"normalized": len(back), "unreadable": unreadable}


def normalize_listed(conn) -> int:
    """Rewrite the rows whose number is E.164 in shape but not phonenumbers' E.164 form of it
    (``+4402079460958`` is ``+442079460958``); return how many. A row phonenumbers refuses stays
    as written: it blocks that exact string, and no valid contact has it."""
    from include.campaigns.blacklist_import import _normalizer
    from include.campaigns.db import execute, fetch_one, load_sql

    to_e164 = _normalizer(None)
    ids, phones = [], []
    with conn.transaction():
        with conn.cursor(name=f"blacklist_phones_{uuid.uuid4().hex}") as cur:
            cur.execute(load_sql("blacklist_phones"))
            while rows := cur.fetchmany(REDIS_CHUNK):
                for row_id, phone in rows:
                    try:
                        e164 = to_e164(phone)
                    except InvalidPhone:
                        continue
                    if e164 != phone:
                        ids.append(row_id)
                        phones.append(e164)
        if ids:
            execute(conn, "blacklist_incoming_create")
            execute(conn, "blacklist_restage", {"ids": ids, "phones": phones})
            fetch_one(conn, "blacklist_incoming_merge", {"reason": None, "campaign_id": None, "expires_at": None})
    if ids:
        log.warning("Rewrote %d blacklist row(s) in their E.164 form", len(ids))
    return len(ids)


if __name__ == "__main__":
    import sys

    from include.campaigns.db import campaign_db

    command = sys.argv[1] if len(sys.argv) > 1 else "sync"
    with campaign_db() as connection:
        if command == "normalize":
            print({**normalize_rejected(connection), "rewritten": normalize_listed(connection)})
        elif command == "sync":
            print(
                f"Redis opt-out set synced with {sync_from_postgres(connection)} active global entr(ies) "
                "from PostgreSQL"
            )
        else:
            sys.exit(f"unknown command {command!r}: sync or normalize")
