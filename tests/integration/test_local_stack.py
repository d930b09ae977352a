"""The local stack keeps its secrets private: its files are its user's alone, and PostgreSQL
asks for a password, one generated for this stack, over TCP."""

from __future__ import annotations

import json
import os
import stat

import pytest

from dev import stack

pytestmark = pytest.mark.integration


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_stack_state_file_holding_its_secrets_is_private():
    path = stack.stack_dir() / "stack.json"
    state = json.loads(path.read_text())
    assert state["jwt_secret"] and state["passwords"]
    assert _mode(path) & 0o077 == 0, oct(_mode(path))


def test_postgres_requires_a_password_over_tcp():
    import psycopg

    port = stack.status()["postgres"]["port"]
    for user, password in [
        ("postgres", None),
        ("postgres", "postgres"),
        ("campaigns", "campaigns"),
        ("airflow", "airflow"),
        ("campaigns", None),
    ]:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                host="127.0.0.1", port=port, user=user, password=password, dbname="postgres", connect_timeout=5
            ).close()


def test_no_tcp_line_of_pg_hba_trusts_anyone():
    pgdata, _ = stack._pg_paths()
    lines = [
        line.split()
        for line in (pgdata / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    host_lines = [line for line in lines if line[0].startswith("host")]
    assert host_lines and all(line[-1] == "scram-sha-256" for line in host_lines), host_lines


def test_the_stack_passwords_are_its_own_random_ones_and_they_work():
    import psycopg

    environ = stack.env()
    conn = json.loads(environ["AIRFLOW_CONN_CAMPAIGNS_DB"])
    passwords = json.loads((stack.stack_dir() / "stack.json").read_text())["passwords"]
    assert conn["password"] == passwords["campaigns"]
    for role, password in passwords.items():
        # Not a word: Airflow's secret masker replaces every occurrence of a password in every log.
        assert len(password) >= 24 and password.isalnum() and password.lower() != role
    assert passwords["airflow"] in environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    with psycopg.connect(stack._campaign_dsn(environ), connect_timeout=5) as db:
        assert db.execute("SELECT current_user").fetchone()[0] == "campaigns"
