"""Access to the campaign database: through the Postgres provider hook in tasks, through psycopg
directly for the DAG file's catalog query (see :func:`parse_time_db`)."""

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


# Extra keys PostgresHook interprets itself (IAM tokens, cursor factories, cloud credentials) rather
# than passing them to psycopg: a connection using one of them is opened through the hook.
HOOK_ONLY_EXTRAS = frozenset({
    "iam", "redshift", "redshift-serverless", "cursor", "cluster-identifier", "workgroup-name",
    "aws_conn_id", "sqlalchemy_scheme", "sqlalchemy_query", "azure_conn_id",
})


@contextmanager
def parse_time_db(statement_timeout_ms: int) -> Iterator["psycopg.Connection"]:
    """A connection for the DAG file's catalog query, opened with psycopg from the same Airflow
    connection (``campaigns_db``) and the same arguments as ``PostgresHook.get_conn()`` builds.

    Not through the hook: importing ``PostgresHook`` pulls in the common-sql provider, 110-140 ms
    with psycopg in a fresh process and 50-60 ms on top of psycopg alone (``python -X importtime``
    on the worker path). The worker path pays every import on every task start and sensor poke
    (each re-parses the DAG file), and the hook was the largest thing the DAG file added over
    Airflow's own parse. Task code keeps using :func:`campaign_db`. A connection that relies on an
    extra the hook interprets (IAM, a cursor factory...) still goes through the hook.
    """
    from airflow.sdk import Connection

    connection = Connection.get(CAMPAIGNS_DB_CONN_ID)
    extra = connection.extra_dejson
    if HOOK_ONLY_EXTRAS & set(extra):
        with campaign_db(statement_timeout_ms) as conn:
            yield conn
        return
    import psycopg
    from psycopg.types.json import register_default_adapters

    # PostgresHook.get_conn()'s arguments, in its order: the extra overrides the options.
    args = {"host": connection.host, "user": connection.login, "password": connection.password,
            "dbname": connection.schema, "port": connection.port,
            "options": f"-c statement_timeout={statement_timeout_ms}", **extra}
    conn = psycopg.connect(**args)
    register_default_adapters(conn)
    conn.autocommit = True
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
