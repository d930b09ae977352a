"""Access to the campaign database: through the Postgres provider hook in tasks, through psycopg
directly for the DAG file's catalog query (see :func:`parse_time_db`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

CAMPAIGNS_DB_CONN_ID = "campaigns_db"
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
# Every task connection gives up rather than wait for ever: a statement after this long, a lock
# wait (an operator's open transaction on a campaign row) after this long. Environment variables
# override them; so does an `options` extra on the connection, which replaces these entirely.
STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT_MS = "CAMPAIGN_DB_STATEMENT_TIMEOUT_MS", 10 * 60 * 1000
LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_MS = "CAMPAIGN_DB_LOCK_TIMEOUT_MS", 30 * 1000
# SQLSTATEs of a statement given up on: lock_not_available, query_canceled (statement_timeout).
TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})


def _env_ms(name: str, default: int) -> int:
    raw = os.environ.get(name)
    try:
        value = int(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


def _timeouts(statement_timeout_ms: int | None) -> tuple[int, int]:
    statement = statement_timeout_ms or _env_ms(STATEMENT_TIMEOUT_ENV, DEFAULT_STATEMENT_TIMEOUT_MS)
    return statement, min(_env_ms(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_MS), statement)


def timeout_options(statement_timeout_ms: int | None = None) -> str:
    """libpq options setting the statement and lock timeouts; a lock wait never outlasts the statement."""
    statement, lock = _timeouts(statement_timeout_ms)
    return f"-c statement_timeout={statement} -c lock_timeout={lock}"


def is_timeout(exc: BaseException) -> bool:
    """Whether the database gave up on a statement (a lock or statement timeout)."""
    return getattr(exc, "sqlstate", None) in TIMEOUT_SQLSTATES


@cache
def load_sql(name: str) -> str:
    """The statement in include/sql/queries/<name>.sql; every statement takes bind parameters only."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text()


@contextmanager
def campaign_db(statement_timeout_ms: int | None = None) -> Iterator[psycopg.Connection]:
    """An autocommit connection with statement and lock timeouts (see :func:`timeout_options`);
    callers wrap each atomic unit in ``conn.transaction()``.

    On a worker, the first one is the connection its DAG file's parse opened (see
    :func:`parse_time_db`), with this call's timeouts. psycopg 3's ``with conn:`` closes the
    connection, so the hook's connection is closed here explicitly instead.
    """
    conn = _take_parse_connection(statement_timeout_ms)
    if conn is None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(
            postgres_conn_id=CAMPAIGNS_DB_CONN_ID, options=timeout_options(statement_timeout_ms)
        ).get_conn()
        conn.autocommit = True
        # Server-side prepared statements switch to a generic plan after five runs; the claim's best
        # plan depends on its parameters (open zones, caps), and a generic one was measured far slower.
        conn.prepare_threshold = None
    try:
        yield conn
    finally:
        conn.close()


# The worker parse's connection, waiting for the task's first campaign_db() (at most one): a task
# start or a sensor poke is a fresh process that parses its DAG file and then runs the task, and
# connecting once instead of twice also spares the task the PostgresHook import.
_parse_connection: list[tuple[psycopg.Connection, bool]] = []


def _take_parse_connection(statement_timeout_ms: int | None) -> psycopg.Connection | None:
    if not _parse_connection:
        return None
    conn, own_options = _parse_connection.pop()
    from psycopg.pq import TransactionStatus

    if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
        conn.close()
        return None
    if own_options:  # as timeout_options() would set them; an `options` extra wins, as with the hook
        statement, lock = _timeouts(statement_timeout_ms)
        try:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                (f"{statement}ms", f"{lock}ms"),
            )
        except Exception:  # a connection that broke since the parse: the task opens its own
            conn.close()
            return None
    return conn


def _hand_over(conn: psycopg.Connection, own_options: bool) -> None:
    while _parse_connection:
        _parse_connection.pop()[0].close()
    _parse_connection.append((conn, own_options))


# Extra keys PostgresHook interprets itself (IAM tokens, cursor factories, cloud credentials) rather
# than passing them to psycopg: a connection using one of them is opened through the hook.
HOOK_ONLY_EXTRAS = frozenset(
    {
        "iam",
        "redshift",
        "redshift-serverless",
        "cursor",
        "cluster-identifier",
        "workgroup-name",
        "aws_conn_id",
        "sqlalchemy_scheme",
        "sqlalchemy_query",
        "azure_conn_id",
    }
)


@contextmanager
def parse_time_db(statement_timeout_ms: int, hand_over: bool = False) -> Iterator[psycopg.Connection]:
    """A connection for the DAG file's catalog query, opened with psycopg from the same Airflow
    connection (``campaigns_db``) and the same arguments as ``PostgresHook.get_conn()`` builds.

    Not through the hook: importing ``PostgresHook`` pulls in the common-sql provider, a large
    share of the worker path's imports on top of psycopg (``python -X importtime``; figures in
    benchmarks/README.md). The worker path pays every import on every task start and sensor poke
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
    args = {
        "host": connection.host,
        "user": connection.login,
        "password": connection.password,
        "dbname": connection.schema,
        "port": connection.port,
        "options": timeout_options(statement_timeout_ms),
        **extra,
    }
    conn = psycopg.connect(**args)
    register_default_adapters(conn)
    conn.autocommit = True
    conn.prepare_threshold = None
    try:
        yield conn
    except BaseException:
        conn.close()
        raise
    if hand_over:
        _hand_over(conn, own_options="options" not in extra)
    else:
        conn.close()


def fetch_all(conn: psycopg.Connection, name: str, params: dict | None = None) -> list[dict]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(load_sql(name), params or {})
        return cur.fetchall()


def fetch_one(conn: psycopg.Connection, name: str, params: dict | None = None) -> Any:
    """The first row as a dict, or None. Typed Any: most statements read here always return a row
    (an aggregate, an upsert's RETURNING), and their callers index it directly."""
    rows = fetch_all(conn, name, params)
    return rows[0] if rows else None


def execute(conn: psycopg.Connection, name: str, params: dict | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute(load_sql(name), params or {})
        return cur.rowcount
