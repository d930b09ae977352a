"""Versioned schema migrations for the campaign database.

    python -m include.campaigns.migrations        # applies what is missing, idempotently

Each ``include/sql/migrations/NNNN_name.sql`` runs once, in order, in its own transaction.
A ``NNNN_name.py`` is a migration SQL cannot express (phone numbers need ``phonenumbers``): its
``migrate(conn)`` runs the same way, once, in order, in its own transaction.
An advisory lock makes concurrent runs (several workers starting at once) wait for each other.

``schema_migrations`` keeps the sha256 of each file as it was applied. A file changed after it
was applied stops the run before anything is applied, naming the file: a database already holds
what the file said then, so a change goes in a new migration. A database migrated before the
checksums were kept records each applied file's checksum on its next run.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
_LOCK_KEY = 7_100_221  # arbitrary, fixed: the advisory lock that serializes migrators


class MigrationChanged(RuntimeError):
    """An applied migration's file no longer has the content it was applied with."""


def migration_files() -> list[Path]:
    paths = [*MIGRATIONS_DIR.glob("*.sql"), *MIGRATIONS_DIR.glob("[0-9]*.py")]
    return sorted(paths, key=lambda p: p.stem)


def pending_migrations(applied: set[str]) -> list[Path]:
    return [p for p in migration_files() if p.stem not in applied]


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(conn, path: Path) -> None:
    if path.suffix == ".sql":
        conn.execute(path.read_text())
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"campaign_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load migration {path}")
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
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text)"
        )
        conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
        recorded = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        _check_applied(conn, recorded)
        done = []
        for path in pending_migrations(set(recorded)):
            with conn.transaction():
                _run(conn, path)
                conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)", (path.stem, checksum(path))
                )
            done.append(path.stem)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _check_applied(conn, recorded: dict[str, str | None]) -> None:
    """Stop on an applied file that changed; record the checksum of one applied before they were kept.
    A version with no file left is not checked (nothing could run it again)."""
    changed, unrecorded = [], []
    for path in migration_files():
        if path.stem not in recorded:
            continue
        now = checksum(path)
        if recorded[path.stem] is None:
            unrecorded.append((now, path.stem))
        elif recorded[path.stem] != now:
            changed.append(
                f"{_shown(path)} changed after it was applied to this database "
                f"(sha256 recorded {recorded[path.stem]}, the file's now {now})"
            )
    if changed:
        raise MigrationChanged(
            "; ".join(changed) + ". Restore the file as it was applied, and put the change in a new migration."
        )
    if unrecorded:
        with conn.transaction():
            conn.cursor().executemany(
                "UPDATE schema_migrations SET checksum = %s WHERE version = %s AND checksum IS NULL", unrecorded
            )


def _shown(path: Path) -> str:
    root = Path(__file__).resolve().parents[2]
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def main() -> None:
    try:
        applied_now = apply_migrations(sys.argv[1] if len(sys.argv) > 1 else None)
    except MigrationChanged as exc:
        sys.exit(f"migrate stopped: {exc}")
    print(f"applied {len(applied_now)} migration(s): {', '.join(applied_now) or 'schema is current'}")


if __name__ == "__main__":
    main()
