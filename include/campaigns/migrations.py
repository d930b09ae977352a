"""Versioned schema migrations for the campaign database.

    python -m include.campaigns.migrations        # applies what is missing, idempotently

Each ``include/sql/migrations/NNNN_name.sql`` runs once, in order, in its own transaction.
A ``NNNN_name.py`` is a migration SQL cannot express (phone numbers need ``phonenumbers``): its
``migrate(conn)`` runs the same way, once, in order, in its own transaction.
An advisory lock makes concurrent runs (several workers starting at once) wait for each other.
"""

from __future__ import annotations

import sys
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
_LOCK_KEY = 7_100_221  # arbitrary, fixed: the advisory lock that serializes migrators


def pending_migrations(applied: set[str]) -> list[Path]:
    paths = [*MIGRATIONS_DIR.glob("*.sql"), *MIGRATIONS_DIR.glob("[0-9]*.py")]
    return sorted((p for p in paths if p.stem not in applied), key=lambda p: p.stem)


def _run(conn, path: Path) -> None:
    if path.suffix == ".sql":
        conn.execute(path.read_text())
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"campaign_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.migrate(conn)


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
                _run(conn, path)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
            done.append(path.stem)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


if __name__ == "__main__":
    applied_now = apply_migrations(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"applied {len(applied_now)} migration(s): {', '.join(applied_now) or 'schema is current'}")
