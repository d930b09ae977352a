"""The real-time opt-out set in Redis, beside the PostgreSQL blacklist.

Redis may hold opt-outs newer than PostgreSQL, so both are checked before a send. Redis being
down never blocks a campaign: PostgreSQL's list still applies and a warning is logged.
"""

from __future__ import annotations

import logging

from include.campaigns.resources import REDIS_CONN_ID

log = logging.getLogger(__name__)

OPT_OUT_SET = "campaigns:blacklist"


def _client():
    from airflow.providers.redis.hooks.redis import RedisHook

    return RedisHook(redis_conn_id=REDIS_CONN_ID).get_conn()


def blocked_phones(phones: list[str]) -> set[str] | None:
    """The phones on the Redis opt-out set, in one round trip; None when Redis is unreachable."""
    if not phones:
        return set()
    try:
        flags = _client().smismember(OPT_OUT_SET, phones)
    except Exception as exc:  # redis.ConnectionError, TimeoutError, auth errors: all mean "no answer"
        log.warning("Redis opt-out set unavailable (%s); checking the PostgreSQL blacklist only",
                    exc.__class__.__name__)
        return None
    return {phone for phone, flag in zip(phones, flags) if flag}


def add_opt_outs(phones: list[str]) -> bool:
    """Record opt-outs in Redis at once; PostgreSQL already has them, so a failure only warns."""
    if not phones:
        return True
    try:
        _client().sadd(OPT_OUT_SET, *phones)
    except Exception as exc:
        log.warning("Could not add %d opt-out(s) to Redis (%s); the next blacklist sync will",
                    len(phones), exc.__class__.__name__)
        return False
    return True


def remove_opt_outs(phones: list[str]) -> None:
    """Take numbers off the Redis set; only for tooling that resets data (the demo), never dispatch."""
    if phones:
        _client().srem(OPT_OUT_SET, *phones)


def sync_from_postgres(conn) -> int:
    """Warm the Redis set from PostgreSQL's global, unexpired entries; return how many."""
    from include.campaigns.db import fetch_all

    phones = [r["phone"] for r in fetch_all(conn, "blacklist_global_active")]
    client = _client()
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(phones), 10_000):
        pipe.sadd(OPT_OUT_SET, *phones[start:start + 10_000])
    pipe.execute()
    return len(phones)


if __name__ == "__main__":
    from include.campaigns.db import campaign_db

    with campaign_db() as connection:
        print(f"Redis opt-out set warmed with {sync_from_postgres(connection)} number(s) from PostgreSQL")
