"""Access to the campaign database through the Postgres provider hook."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import psycopg

CAMPAIGNS_DB_CONN_ID = "campaigns_db"
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@lru_cache(maxsize=None)
def load_sql(name: str) -> str:
    """The statement in include/sql/queries/<name>.sql; every statement takes bind parameters only."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text()


@contextmanager
def campaign_db(statement_timeout_ms: int | None = None) -> Iterator["psycopg.Connection"]:
    """An autocommit connection; callers wrap each atomic unit in ``conn.transaction()``.

    psycopg 3's ``with conn:`` closes the connection, so the hook's connection is closed here
    explicitly instead.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    options = f"-c statement_timeout={statement_timeout_ms}" if statement_timeout_ms else None
    conn = PostgresHook(postgres_conn_id=CAMPAIGNS_DB_CONN_ID, options=options).get_conn()
    conn.autocommit = True
    # Server-side prepared statements switch to a generic plan after five runs; the claim's best
    # plan depends on its parameters (open zones, caps), and a generic one was measured 100x slower.
    conn.prepare_threshold = None
    try:
        yield conn
    finally:
        conn.close()


def fetch_all(conn: "psycopg.Connection", name: str, params: dict | None = None) -> list[dict]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load_sql(name), params or {})
        return cur.fetchall()


def fetch_one(conn: "psycopg.Connection", name: str, params: dict | None = None) -> dict | None:
    rows = fetch_all(conn, name, params)
    return rows[0] if rows else None


def execute(conn: "psycopg.Connection", name: str, params: dict | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute(load_sql(name), params or {})
        return cur.rowcount
