"""Versioned schema migrations for the campaign database.

    python -m include.campaigns.migrations        # applies what is missing, idempotently

Each ``include/sql/migrations/NNNN_name.sql`` runs once, in order, in its own transaction.
An advisory lock makes concurrent runs (several workers starting at once) wait for each other.
"""

from __future__ import annotations

import sys
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
_LOCK_KEY = 7_100_221  # arbitrary, fixed: the advisory lock that serializes migrators


def pending_migrations(applied: set[str]) -> list[Path]:
    return [p for p in sorted(MIGRATIONS_DIR.glob("*.sql")) if p.stem not in applied]


def apply_migrations(conninfo: str | None = None) -> list[str]:
    """Apply every missing migration; return the versions applied now."""
    import psycopg

    if conninfo is None:
        from include.campaigns.db import campaign_db

        with campaign_db() as conn:
            return _apply(conn)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return _apply(conn)


def _apply(conn) -> list[str]:
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        done = []
        for path in pending_migrations(applied):
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
            done.append(path.stem)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


if __name__ == "__main__":
    applied_now = apply_migrations(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"applied {len(applied_now)} migration(s): {', '.join(applied_now) or 'schema is current'}")
