"""docker-compose.yaml runs the same DAGs on the distributed engine, wired like airflow_settings.yaml.

No Docker engine is needed: the file is read as YAML (anchors and merge keys resolved) and its
structure is checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT_ROOT_IN_IMAGE = "/opt/airflow"
AIRFLOW_SERVICES = [
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]
REQUIRED_SERVICES = ["postgres", "redis", "aws", "aws-init", *AIRFLOW_SERVICES, "dialer-simulator"]
# Everything that runs project code and so must see the campaign connections.
PROJECT_CODE_SERVICES = [*AIRFLOW_SERVICES, "aws-init", "dialer-simulator"]
LONG_RUNNING_SERVICES = [
    "postgres",
    "redis",
    "aws",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]

# Read at collection time so that every connection and variable gets its own test.
SETTINGS = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]
CONNECTIONS = {c["conn_id"]: c for c in SETTINGS.get("connections") or []}
VARIABLES = {v["variable_name"]: str(v["variable_value"]) for v in SETTINGS.get("variables") or []}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def common(compose) -> dict:
    return compose["x-airflow-common"]


@pytest.fixture(scope="module")
def common_env(common) -> dict:
    return environment(common)


def environment(service: dict) -> dict:
    """A service's environment as a dict, whichever of compose's two spellings it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def mounts(service: dict) -> dict[str, str]:
    """Container path -> source, for short ("src:dst[:mode]") and long volume syntax."""
    out = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            out[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            out[target] = source
    return out


def connection_from_settings(conn: dict) -> dict:
    """The Airflow JSON connection form of an airflow_settings.yaml entry, empty fields dropped."""
    extra = conn.get("conn_extra") or {}
    fields = {
        "conn_type": conn["conn_type"],
        "host": conn.get("conn_host"),
        "port": conn.get("conn_port"),
        "schema": conn.get("conn_schema"),
        "login": conn.get("conn_login"),
        "password": conn.get("conn_password"),
        "extra": json.loads(extra) if isinstance(extra, str) else extra,
    }
    return {key: value for key, value in fields.items() if value not in (None, "", {})}


def compose_connection(common_env: dict, conn_id: str) -> dict:
    conn = json.loads(common_env[f"AIRFLOW_CONN_{conn_id.upper()}"])
    if isinstance(conn.get("extra"), str):
        conn["extra"] = json.loads(conn["extra"])
    return {key: value for key, value in conn.items() if value not in (None, "", {})}


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_exists(services, name):
    assert name in services


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_service_runs_the_project_image(services, common, name):
    assert common.get("build"), "x-airflow-common must build the project's Dockerfile"
    assert services[name].get("build") == common["build"]
    assert services[name].get("image") == common.get("image")


@pytest.mark.parametrize("name", PROJECT_CODE_SERVICES)
def test_service_carries_the_common_environment(services, common_env, name):
    env = environment(services[name])
    differing = {key for key, value in common_env.items() if env.get(key) != value}
    assert not differing, f"{name} overrides or drops common settings: {sorted(differing)}"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_component_shares_jwt_secret_and_reaches_execution_api(services, common_env, name):
    env = environment(services[name])
    assert env.get("AIRFLOW__API_AUTH__JWT_SECRET"), "an unset secret is generated per process"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == common_env["AIRFLOW__API_AUTH__JWT_SECRET"]
    url = urlparse(env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", ""))
    assert (url.hostname, url.port, url.path) == ("airflow-apiserver", 8080, "/execution/")
    assert "8080" in str(services["airflow-apiserver"].get("ports")), "the api-server must listen on 8080"


def test_executor_is_celery_with_a_worker(common_env, services):
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert services["airflow-worker"]["command"] == "celery worker"


@pytest.mark.parametrize("name", PROJECT_CODE_SERVICES)
def test_project_root_is_on_pythonpath(services, name):
    env = environment(services[name])
    assert PROJECT_ROOT_IN_IMAGE in env.get("PYTHONPATH", "").split(":")
    assert mounts(services[name]).get(f"{PROJECT_ROOT_IN_IMAGE}/include") == "./include"


@pytest.mark.parametrize("name", PROJECT_CODE_SERVICES)
def test_project_code_is_mounted(services, name):
    volumes = mounts(services[name])
    for folder in ("dags", "include", "plugins", "dev"):
        assert volumes.get(f"{PROJECT_ROOT_IN_IMAGE}/{folder}") == f"./{folder}", f"{folder}/ is not mounted"


@pytest.mark.parametrize("name", LONG_RUNNING_SERVICES)
def test_long_running_service_has_healthcheck(services, name):
    healthcheck = services[name].get("healthcheck") or {}
    assert healthcheck.get("test") and not healthcheck.get("disable")


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_dependencies_can_be_satisfied(services, name):
    """`condition: service_healthy` on a service without a healthcheck fails `docker compose up`."""
    for dependency, spec in (services[name].get("depends_on") or {}).items():
        assert dependency in services, f"{name} depends on unknown service {dependency}"
        condition = spec.get("condition") if isinstance(spec, dict) else None
        if condition == "service_healthy":
            assert services[dependency].get("healthcheck"), f"{dependency} has no healthcheck"
        if condition == "service_completed_successfully":
            assert services[dependency].get("restart", "no") == "no", f"{dependency} never completes"


@pytest.mark.parametrize("name", [n for n in AIRFLOW_SERVICES if n != "airflow-init"] + ["dialer-simulator"])
def test_service_waits_for_migrations(services, name):
    depends_on = services[name].get("depends_on") or {}
    assert depends_on.get("airflow-init", {}).get("condition") == "service_completed_successfully"
    for backing in ("postgres", "redis"):
        assert depends_on.get(backing, {}).get("condition") == "service_healthy"


def test_airflow_init_migrates_creates_user_and_applies_campaign_migrations(services):
    script = " ".join(map(str, services["airflow-init"]["command"]))
    for step in ("airflow db migrate", "airflow users create", "python -m include.campaigns.migrations"):
        assert step in script


@pytest.mark.parametrize("conn_id", sorted(CONNECTIONS))
def test_connection_matches_airflow_settings(common_env, conn_id):
    assert compose_connection(common_env, conn_id) == connection_from_settings(CONNECTIONS[conn_id])


def test_compose_declares_only_settings_connections(common_env):
    declared = {key for key in common_env if key.startswith("AIRFLOW_CONN_")}
    assert declared == {f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in CONNECTIONS}


@pytest.mark.parametrize("conn_id", sorted(CONNECTIONS))
def test_connection_points_at_a_compose_service(services, common_env, conn_id):
    conn = compose_connection(common_env, conn_id)
    endpoint = conn.get("extra", {}).get("endpoint_url")
    host = urlparse(endpoint).hostname if endpoint else conn.get("host")
    assert host in services, f"{conn_id} points at {host}, which is not a compose service"


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_variable_matches_airflow_settings(common_env, name):
    assert common_env.get(f"AIRFLOW_VAR_{name.upper()}") == VARIABLES[name]


def test_compose_declares_only_settings_variables(common_env):
    declared = {key for key in common_env if key.startswith("AIRFLOW_VAR_")}
    assert declared == {f"AIRFLOW_VAR_{name.upper()}" for name in VARIABLES}


def test_celery_broker_and_campaign_redis_use_different_dbs(common_env):
    broker = urlparse(common_env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.path) == ("redis", "redis", "/0")
    campaign_db = int(compose_connection(common_env, "campaigns_redis").get("extra", {}).get("db", 0))
    assert campaign_db != 0, "application keys must stay out of the Celery broker's db"


def test_postgres_creates_the_campaigns_database(services, common_env):
    """One server: Airflow's metadata in `airflow`, campaign data in the connection's database."""
    assert urlparse(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).path == "/airflow"
    conn = compose_connection(common_env, "campaigns_db")
    init_scripts = [
        ROOT / source
        for target, source in mounts(services["postgres"]).items()
        if target.startswith("/docker-entrypoint-initdb.d/")
    ]
    sql = " ".join(path.read_text() for path in init_scripts)
    assert f"CREATE DATABASE {conn['schema']} OWNER {conn['login']}" in sql
    assert f"CREATE ROLE {conn['login']} LOGIN PASSWORD '{conn['password']}'" in sql


# Secrets and exposure -----------------------------------------------------------------------

SECRET_SETTINGS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": lambda services: environment(services["airflow-apiserver"]),
    "_AIRFLOW_WWW_USER_PASSWORD": lambda services: environment(services["airflow-init"]),
}


@pytest.mark.parametrize("name", sorted(SECRET_SETTINGS))
def test_a_secret_has_no_default_in_the_repo_and_is_required(services, name):
    """A default secret in a public file is everyone's secret: a token forged with it is accepted."""
    value = SECRET_SETTINGS[name](services).get(name, "")
    assert value.startswith(f"${{{name}:?") and value.endswith("}"), (
        f"{name} must be required from .env or the environment (${{{name}:?message}}), got {value!r}"
    )


def test_no_secret_default_is_left_anywhere_in_the_file():
    import re

    text = (ROOT / "docker-compose.yaml").read_text()
    for name in SECRET_SETTINGS:
        assert not re.search(r"\$\{" + name + r":?[-=+]", text), f"{name} has a default somewhere"


def _published(service: dict) -> list[str]:
    return [
        str(p) if not isinstance(p, dict) else f"{p.get('host_ip', '')}:{p.get('published')}:{p.get('target')}"
        for p in service.get("ports") or []
    ]


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_published_ports_listen_on_loopback_by_default(services, name):
    for port in _published(services[name]):
        host = port.rsplit(":", 2)[0] if port.count(":") >= 2 else ""
        default = host.split(":-", 1)[1].rstrip("}") if ":-" in host else host
        assert default == "127.0.0.1", f"{name} publishes {port!r} beyond this machine by default"


def test_the_aws_emulator_is_not_published(services):
    """Moto holds the dial queue, full phone numbers included, and checks no credentials."""
    assert not services["aws"].get("ports")


def test_the_api_server_is_still_reachable_from_this_machine(services):
    [port] = _published(services["airflow-apiserver"])
    assert port.endswith(":8080:8080")


# The native Celery run (`make airflow EXECUTOR=celery`, dev/celery_local.py) is where these
# settings are proven; compose must carry the same. Only what one machine forces may differ:
# host names, ports, and each worker's host name, which a container has of its own.


@pytest.fixture(scope="module")
def native_env() -> dict:
    from dev.airflow_local import airflow_env

    return airflow_env({}, 8080, "celery")


def test_the_native_celery_run_and_compose_run_the_same_executor_with_the_same_slots(native_env, common_env):
    for key in (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY",
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL",
    ):
        assert native_env[key] == common_env[key], key
    assert (
        native_env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"].lower()
        == common_env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"].lower()
        == "true"
    )


def test_the_native_celery_run_uses_compose_broker_db_and_result_backend(native_env, common_env):
    native_broker, broker = (
        urlparse(native_env["AIRFLOW__CELERY__BROKER_URL"]),
        urlparse(common_env["AIRFLOW__CELERY__BROKER_URL"]),
    )
    assert (native_broker.scheme, native_broker.path) == (broker.scheme, broker.path)
    native_result, result = (
        urlparse(native_env["AIRFLOW__CELERY__RESULT_BACKEND"]),
        urlparse(common_env["AIRFLOW__CELERY__RESULT_BACKEND"]),
    )
    assert (native_result.scheme, native_result.path) == (result.scheme, result.path)
    # Results go to the metadata database, in both.
    assert native_result.path == urlparse(native_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).path
    assert result.path == urlparse(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).path


def test_the_native_celery_run_shares_one_jwt_secret_and_the_execution_api_path(native_env, common_env):
    assert native_env.get("AIRFLOW__API_AUTH__JWT_SECRET"), "an unset secret is generated per process"
    assert "AIRFLOW__API_AUTH__JWT_SECRET" in common_env
    assert (
        urlparse(native_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
        == urlparse(common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).path
    )


def test_native_and_compose_workers_consume_the_same_queue_and_answer_the_same_health_check(services):
    from dev import celery_local

    class Recorder:
        def start(self, name, argv, env=None):
            self.argv = argv

    native = Recorder()
    celery_local.start_worker(native, "airflow", "worker-1")
    compose_argv = services["airflow-worker"]["command"].split()
    # Neither names a queue: both consume Airflow's default queue, where every task goes.
    assert not {"-q", "--queues"} & set(native.argv[1:]) and not {"-q", "--queues"} & set(compose_argv)
    assert native.argv[1:3] == compose_argv
    health = " ".join(services["airflow-worker"]["healthcheck"]["test"])
    assert f"--app {celery_local.CELERY_APP} inspect ping" in health
    assert "--celery-hostname" not in compose_argv, "a container's worker is named after its host"


def test_native_workers_report_their_own_host_names_on_task_instances(monkeypatch):
    from dev import celery_local

    hosts = set()
    for name in celery_local.WORKERS:
        env = celery_local.worker_env(name)
        monkeypatch.setenv(celery_local.WORKER_NAME_ENV, env[celery_local.WORKER_NAME_ENV])
        module, _, func = env["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rpartition(".")
        hosts.add(getattr(__import__(module, fromlist=[func]), func)())
    assert hosts == set(celery_local.WORKERS)


def test_the_native_and_compose_pools_come_from_airflow_settings(services):
    # Compose's airflow-init imports them; the embedded stack's first start imports the same file.
    assert "python -m dev.compose.import_pools" in services["airflow-init"]["command"][-1]
    stack_source = (ROOT / "dev" / "stack.py").read_text()
    assert "from dev.compose.import_pools import import_pools" in stack_source


def test_native_and_compose_airflow_processes_import_the_same_local_settings(services, native_env):
    """airflow_local_settings.py preloads what a campaign task imports into the processes that fork
    task processes; both runs must put it on the path of every Airflow process."""
    assert str(ROOT) in native_env["PYTHONPATH"].split(":")
    for name in AIRFLOW_SERVICES:
        assert (
            mounts(services[name]).get(f"{PROJECT_ROOT_IN_IMAGE}/airflow_local_settings.py")
            == "./airflow_local_settings.py"
        ), name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert any(
        line.startswith("COPY") and "airflow_local_settings.py" in line and line.rstrip().endswith("/opt/airflow/")
        for line in dockerfile.splitlines()
    )
