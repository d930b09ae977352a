"""Schema migrations: each applied file's checksum is kept, and a file edited after it was applied
stops `migrate` before it changes anything."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from include.campaigns import migrations

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch_db(db):
    """A schema of its own on the test database, reached through search_path (an autocommit
    connection and its conninfo): `migrate` builds the whole schema there from nothing."""
    name = f"migrations_{uuid.uuid4().hex[:10]}"
    db.execute(f'CREATE SCHEMA "{name}"')
    conninfo = psycopg.conninfo.make_conninfo(
        db.info.dsn, password=db.info.password or None, options=f"-c search_path={name}"
    )
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield conn, conninfo
    finally:
        db.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def migrations_dir(tmp_path, monkeypatch) -> Path:
    """A copy of the repository's migrations that a test may edit, read by `migrate` in their place."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, copy)
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", copy)
    return copy


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded(conn) -> dict[str, str | None]:
    return dict(conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall())


def test_an_unchanged_applied_migration_passes_and_its_checksum_is_kept(scratch_db, migrations_dir):
    conn, conninfo = scratch_db
    files = sorted([*migrations_dir.glob("*.sql"), *migrations_dir.glob("[0-9]*.py")], key=lambda p: p.stem)

    assert migrations.apply_migrations(conninfo) == [p.stem for p in files]
    assert migrations.apply_migrations(conninfo) == []
    assert _recorded(conn) == {p.stem: _sha256(p) for p in files}


@pytest.mark.parametrize("edited", ["0003_campaign_runs.sql", "0009_blacklist_normalize.py"])
def test_an_applied_migration_edited_afterwards_stops_migrate_naming_the_file(scratch_db, migrations_dir, edited):
    conn, conninfo = scratch_db
    migrations.apply_migrations(conninfo)
    path = migrations_dir / edited
    path.write_text(
        path.read_text() + "\n-- an afterthought\n"
        if path.suffix == ".sql"
        else path.read_text() + "\n# an afterthought\n"
    )
    # A new migration is waiting too: nothing is applied while an applied one has changed.
    (migrations_dir / "9999_after.sql").write_text("CREATE TABLE after_the_edit (id int);\n")

    with pytest.raises(migrations.MigrationChanged) as stopped:
        migrations.apply_migrations(conninfo)

    message = str(stopped.value)
    assert edited in message and "changed after it was applied" in message, message
    assert "new migration" in message, message  # what to do instead
    assert "9999_after" not in _recorded(conn)
    assert conn.execute("SELECT to_regclass('after_the_edit')").fetchone()[0] is None


def test_a_database_migrated_before_checksums_were_kept_upgrades_and_is_guarded_from_then_on(
    scratch_db, migrations_dir
):
    conn, conninfo = scratch_db
    # The table as every earlier `migrate` left it: versions, no checksums; the first few applied.
    conn.execute(
        "CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    old = sorted(migrations_dir.glob("*.sql"))[:3]
    for path in old:
        conn.execute(path.read_text())
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))

    applied = migrations.apply_migrations(conninfo)

    assert applied[0] == "0004_blacklist_watermark" and old[-1].stem not in applied
    recorded = _recorded(conn)
    assert all(recorded[p.stem] == _sha256(p) for p in old), recorded
    assert None not in recorded.values()

    old[0].write_text(old[0].read_text() + "\n-- edited after the upgrade\n")
    with pytest.raises(migrations.MigrationChanged, match=old[0].name):
        migrations.apply_migrations(conninfo)


def test_migrate_from_the_command_line_stops_with_the_error_and_no_traceback(scratch_db, migrations_dir):
    _, conninfo = scratch_db
    migrations.apply_migrations(conninfo)
    edited = migrations_dir / "0001_initial.sql"
    edited.write_text(edited.read_text().replace("CREATE TABLE", "CREATE  TABLE", 1))

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys; from pathlib import Path; from include.campaigns import migrations; "
                f"migrations.MIGRATIONS_DIR = Path({str(migrations_dir)!r}); "
                "sys.argv[1:] = [sys.argv[1]]; migrations.main()"
            ),
            conninfo,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(Path(__file__).resolve().parents[2]),
    )

    assert proc.returncode != 0
    assert "0001_initial.sql" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
