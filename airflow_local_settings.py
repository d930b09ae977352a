"""Airflow's local-settings hook: every Airflow process imports this module when it starts.

It changes no setting. In the processes that fork task processes (the scheduler, whose
LocalExecutor workers are its forks; a Celery worker, whose pool processes are its forks) and in
the dag-processor (which forks a process per parse), it imports up front the modules a campaign
task and a campaign DAG file import. A fork inherits them, so a sensor poke no longer pays for
importing psycopg, the provider hooks and the campaign package in every task process: that import
was most of a poke's CPU, and a fleet of campaigns pokes all the time. Airflow's Celery worker
preloads its own operators the same way, for the same reason.

A module that fails to import here is logged and skipped: the task imports it itself, as before.
"""

import logging
import sys

__all__: list[str] = []  # Airflow copies public names of this module into airflow.settings: none

# What a task of a campaign DAG (above all the poke) and the parse of a campaign DAG file import,
# lazily, beyond Airflow's task runner. tests/scheduler/test_fleet_settings.py checks that a parse
# and a poke import nothing heavy that is not here.
PRELOAD = (
    "psycopg",
    "psycopg.pq",
    "psycopg.rows",
    "psycopg.types.json",
    "croniter",
    "holidays",
    "phonenumbers",
    "phonenumbers.geocoder",
    "phonenumbers.timezone",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.decorators.sensor",
    "airflow.providers.standard.operators.python",
    "airflow.providers.postgres.hooks.postgres",
    "airflow.providers.redis.hooks.redis",
    "airflow.providers.amazon.aws.hooks.sqs",
    "airflow.providers.amazon.aws.hooks.sns",
    "include.campaigns.catalog",
    "include.campaigns.dag_factory",
    "include.campaigns.db",
    "include.campaigns.runs",
    "include.campaigns.dispatch",
    "include.campaigns.progress",
    "include.campaigns.resources",
    "include.campaigns.blacklist",
    "include.campaigns.phones",
    "include.campaigns.calling_window",
    "include.campaigns.notification",
    "include.campaigns.run_end",
    "include.campaigns.report_operator",
    "include.campaigns.callbacks",
)
# `airflow <command>` processes that fork task or parse processes.
FORKING_COMMANDS = (("scheduler",), ("celery", "worker"), ("dag-processor",))


def forks_tasks(argv: list[str]) -> bool:
    args = [a for a in argv[1:] if not a.startswith("-")]
    return any(tuple(args[: len(cmd)]) == cmd for cmd in FORKING_COMMANDS)


def preload(modules=PRELOAD) -> list[str]:
    """Import each module; return the ones that failed (logged, never raised)."""
    import importlib

    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a preload is an optimisation, never a start-up failure
            failed.append(name)
            logging.getLogger(__name__).warning("Not preloaded: %s (%s: %s)", name, type(exc).__name__, exc)
    return failed


if forks_tasks(sys.argv):
    preload()
