"""Bring the platform up locally: database, model, folders, and the services under a supervisor."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from . import data_docs, prometheus
from .db import check_database, describe_url, embedded_cluster, engine_for, migrate
from .errors import ConfigurationError
from .settings import PROJECT_ROOT, Settings
from .supervision import Liveness, RestartPolicy, Service, Supervisor, http_answers


def bring_up_database(settings: Settings) -> str:
    """Start the embedded cluster unless DATABASE_URL is set, migrate, and return the URL."""
    url = settings.database_url or embedded_cluster(settings).start()
    migrate(url)
    check_database(engine_for(url))
    return url


def ensure_model(settings: Settings, url: str) -> tuple[str, bool]:
    """The champion's version, once the models from before the registry are imported;
    the first model is trained (and promoted) when the registry has none."""
    from .lifecycle.legacy import import_legacy_models
    from .lifecycle.registry import Registry
    from .lifecycle.retraining import ensure_champion

    registry = Registry(settings.tracking_uri)
    registry.check()
    import_legacy_models(settings.models_dir, settings.dataset, engine_for(url), registry)
    return ensure_champion(settings)


def wait_until_answers(url: str, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not http_answers(url, timeout=2):
        if time.monotonic() > deadline:
            raise ConfigurationError(f"{what} did not answer at {url} in {timeout:.0f} s")
        time.sleep(0.25)


def mlflow_service(settings: Settings, url: str) -> Service:
    """The MLflow tracking server and registry: its own database, artifacts under the root."""
    settings.mlflow_artifacts_dir.mkdir(parents=True, exist_ok=True)
    return Service(
        "mlflow",
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            _database(url, "mlflow", "psycopg"),
            "--artifacts-destination",
            str(settings.mlflow_artifacts_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.mlflow_port),
            "--workers",
            "1",
        ],
        url=f"http://127.0.0.1:{settings.mlflow_port}",
        # Its job runners (three more processes) serve GenAI evaluations; we have none.
        env={"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        liveness=answers(f"http://127.0.0.1:{settings.mlflow_port}/health"),
    )


def prepare_data_folders(settings: Settings) -> None:
    for folder in (
        settings.raw_data_dir,
        settings.good_data_dir,
        settings.bad_data_dir,
        settings.reports_dir,
        settings.outcomes_pending_dir,
        settings.outcomes_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)


def prepare_raw_data(settings: Settings) -> int:
    """On the very first start, split the dataset into raw files (a share with errors)."""
    folders = (settings.raw_data_dir, settings.good_data_dir, settings.bad_data_dir)
    if any(any(folder.iterdir()) for folder in folders if folder.is_dir()):
        return 0
    from .splitting import split_dataset

    files = split_dataset(
        settings.dataset,
        settings.raw_data_dir,
        settings.raw_files_on_first_start,
        settings.random_seed,
        settings.raw_files_error_share,
        settings.outcomes_pending_dir,
    )
    return len(files)


def _database(url: str, name: str, driver: str) -> str:
    """The URL of another database on the same server."""
    parsed = make_url(url).set(database=name, drivername=f"postgresql+{driver}")
    return parsed.render_as_string(hide_password=False)


# How long ago a component wrote its heartbeat row, in seconds.
AIRFLOW_HEARTBEAT = """SELECT extract(epoch FROM now() - latest_heartbeat) FROM job
WHERE job_type = %s ORDER BY id DESC LIMIT 1"""
DAGSTER_HEARTBEAT = """SELECT extract(epoch FROM (now() AT TIME ZONE 'UTC') - max(timestamp))
FROM daemon_heartbeats"""


def heartbeat_fresh(url: str, query: str, max_age: float, *params) -> Liveness:
    """A liveness probe on a heartbeat row: fresh when written in the last `max_age` s;
    unknown when the database cannot be asked (its outage is not the component's)."""
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def probe() -> bool | None:
        try:
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                row = conn.execute(query, params).fetchone()
        except psycopg.Error:
            return None
        return None if row is None or row[0] is None else float(row[0]) <= max_age

    return Liveness(probe, f"its heartbeat (none in {max_age:.0f} s)", grace=120)


def answers(url: str) -> Liveness:
    return Liveness(lambda: http_answers(url), f"GET {url}")


QUEUE_TAG = "creditops/queue"


def queue_tag(job: str) -> dict[str, str]:
    """The tag of a Dagster job's runs, by which the run queue limits them
    (`job`: a key of Settings.job_concurrency)."""
    return {QUEUE_TAG: job}


# What a Dagster run pod gets on Kubernetes besides its image: deploy/kubernetes's
# ConfigMap and Secret.
K8S_RUN_LAUNCHER = """\
run_launcher:
  module: dagster_k8s
  class: K8sRunLauncher
  config:
    load_incluster_config: true
    instance_config_map: dagster-instance  # the Helm chart's, release `dagster`
    job_namespace:
      env: DAGSTER_K8S_JOB_NAMESPACE
    image_pull_policy: IfNotPresent
    env_config_maps: [creditops-config]
    env_secrets: [creditops-secrets]
"""


def dagster_yaml(settings: Settings, kubernetes: bool = False) -> str:
    """Dagster's instance configuration; the storage URL comes from the environment.

    The run queue starts as many runs of each job at once as its setting says
    (CREDITOPS_INGESTION_CONCURRENCY, CREDITOPS_PREDICTION_CONCURRENCY, ...). Run
    monitoring fails a run whose process died (killed, out of memory) once it has run
    longer than a claim may last, so that sensors waiting on it go on. `kubernetes`:
    each run in a pod of its own (dagster-k8s), as deploy/dagster/dagster-k8s.yaml has it.
    """
    max_runtime = int(settings.claim_timeout_minutes * 60)
    concurrency = settings.job_concurrency()
    limits = "".join(
        f"      - key: {QUEUE_TAG}\n        value: {job}\n        limit: {limit}\n"
        for job, limit in concurrency.items()
    )
    written_by = (
        "creditops.stack.dagster_yaml(kubernetes=True), default settings (tests/deploy check it)"
        if kubernetes
        else "`creditops run`"
    )
    return f"""\
# Written by {written_by}; the URL comes from the environment.
storage:
  postgres:
    postgres_url:
      env: CREDITOPS_DAGSTER_STORAGE_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {sum(concurrency.values())}
    dequeue_interval_seconds: 2
    tag_concurrency_limits:
{limits}{K8S_RUN_LAUNCHER if kubernetes else ""}run_monitoring:
  enabled: true
  max_runtime_seconds: {max_runtime}
  poll_interval_seconds: 10
telemetry:
  enabled: false
"""


def webapp_command(port: int) -> list[str]:
    """The Streamlit server of the webapp on 127.0.0.1:`port` (also used by the browser test)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "webapp" / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.maxUploadSize",
        "50",
        # For the people who use it: no Deploy button or developer menu.
        "--client.toolbarMode",
        "minimal",
    ]


def _secret(path: Path) -> str:
    """A secret kept in `path`, made the first time."""
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def airflow_env(settings: Settings, url: str) -> dict[str, str]:
    """What every Airflow component needs: its home, database, executor, auth, API address."""
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    passwords = settings.airflow_home / "passwords.json"
    if not passwords.exists():
        passwords.write_text('{"admin": "admin"}')
    bin_dir = Path(sys.executable).parent
    paused = settings.orchestrator == "dagster"
    return {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "airflow_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": AIRFLOW_EXECUTORS[settings.airflow_executor],
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(paused),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _database(url, "airflow", "psycopg"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _database(url, "airflow", "psycopg_async"),
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{settings.airflow_port}",
        # Separate components must sign and check each other's tokens with one key.
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(settings.airflow_home / "jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _secret(settings.airflow_home / "api_secret"),
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        **(celery_env(settings, url) if settings.airflow_executor == "celery" else {}),
    }


AIRFLOW_EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}


def celery_env(settings: Settings, url: str) -> dict[str, str]:
    """Airflow's Celery executor: tasks queued in Redis, their states kept in Airflow's
    database (the provider's default backend, said outright)."""
    return {
        "AIRFLOW__CELERY__BROKER_URL": broker_url(settings),
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{_database(url, 'airflow', 'psycopg')}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.airflow_worker_concurrency),
    }


def broker_url(settings: Settings) -> str:
    return f"redis://127.0.0.1:{settings.redis_port}/0"


def redis_service(settings: Settings) -> Service:
    """Redis, the Celery broker: on 127.0.0.1 only, its append-only file under the data
    root so that tasks queued before a restart are still there after it."""
    server = shutil.which("redis-server")
    if server is None:
        raise ConfigurationError(
            "CREDITOPS_AIRFLOW_EXECUTOR=celery needs redis-server; "
            "install it with: sudo scripts/install-system-deps.sh"
        )
    settings.redis_dir.mkdir(parents=True, exist_ok=True)
    port = settings.redis_port
    return Service(
        "redis",
        [
            server,
            *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(settings.redis_dir)),
            *("--appendonly", "yes", "--save", ""),
        ],
        url=f"redis://127.0.0.1:{port}",
        stop_tier=2,  # after the workers and the scheduler
        liveness=Liveness(lambda: redis_pings(port), f"PING to Redis on port {port}"),
    )


def redis_pings(port: int) -> bool:
    import redis

    try:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()
    except redis.RedisError:
        return False


def celery_workers(settings: Settings, airflow: str, env: dict[str, str]) -> list[Service]:
    """CREDITOPS_AIRFLOW_CELERY_WORKERS Celery workers (`airflow celery worker`), named
    worker-1@<host>, ...; their task logs are files in the shared Airflow home, which the
    API server reads itself (so none serves logs, which would make them compete for one
    port)."""
    names = [
        f"worker-{n}@{socket.gethostname()}" for n in range(1, settings.airflow_celery_workers + 1)
    ]
    return [
        Service(
            f"airflow-celery-{name.split('@')[0]}",
            [*(airflow, "celery", "worker", "--skip-serve-logs", "--celery-hostname", name)],
            url="",
            env=env,
            stop_tier=0,
            liveness=celery_worker_answers(settings, name),
        )
        for name in names
    ]


def celery_worker_answers(settings: Settings, worker: str) -> Liveness:
    """A Celery worker answers a ping sent through the broker (a hung one does not);
    unknown while Redis itself does not answer: its outage is not the worker's."""
    app = None

    def probe() -> bool | None:
        nonlocal app
        if not redis_pings(settings.redis_port):
            return None
        from celery import Celery
        from kombu.exceptions import KombuError

        app = app or Celery(broker=broker_url(settings))
        try:
            return bool(app.control.ping(destination=[worker], timeout=3))
        except (KombuError, OSError):
            return None

    return Liveness(probe, f"a ping through Redis to {worker}")


def migrate_airflow(settings: Settings, env: dict[str, str]) -> None:
    """`airflow db migrate`, once before its components start (standalone did it itself)."""
    airflow = Path(sys.executable).parent / "airflow"
    log = settings.logs_dir / "airflow-migrate.log"
    with log.open("ab") as output:
        result = subprocess.run(
            [str(airflow), "db", "migrate"],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
    if result.returncode != 0:
        raise ConfigurationError(f"`airflow db migrate` failed; see {log}")


def platform_services(settings: Settings, url: str) -> list[Service]:
    """The long-running services of the local stack (the database apart), in start order."""
    env = {"CREDITOPS_DATABASE_URL": url, "CREDITOPS_DATA_ROOT": str(settings.data_root)}
    bin_dir = Path(sys.executable).parent
    python = sys.executable
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text(dagster_yaml(settings))
    dagster_env = {
        **env,
        "DAGSTER_HOME": str(settings.dagster_home),
        "CREDITOPS_DAGSTER_STORAGE_URL": _database(url, "dagster", "psycopg2"),
    }
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    airflow = str(bin_dir / "airflow")
    airflow_vars = {**env, **airflow_env(settings, url)}
    airflow_db = _database(url, "airflow", "psycopg")
    celery = settings.airflow_executor == "celery"
    return [
        Service(
            "api",
            [
                python,
                "-m",
                "uvicorn",
                "api.main:app",
                "--host",
                settings.api_host,
                "--port",
                str(settings.api_port),
                "--no-access-log",
            ],
            url=f"{settings.model_service_url}/docs",
            env=env,
            liveness=answers(f"{settings.model_service_url}/health"),
        ),
        Service(
            "prometheus",
            prometheus.server_command(settings),
            url=settings.prometheus_base_url,
            liveness=answers(f"http://127.0.0.1:{settings.prometheus_port}/-/healthy"),
        ),
        Service(
            "webapp",
            webapp_command(settings.webapp_port),
            url=f"http://127.0.0.1:{settings.webapp_port}",
            env={**env, "CREDITOPS_API_URL": settings.model_service_url},
            liveness=answers(f"http://127.0.0.1:{settings.webapp_port}/_stcore/health"),
        ),
        Service(
            "reports",
            [
                python,
                "-m",
                "http.server",
                str(settings.reports_port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(settings.reports_dir),
            ],
            url=f"{settings.reports_base_url}/data-docs/index.html",
            liveness=answers(f"http://127.0.0.1:{settings.reports_port}/"),
        ),
        Service(
            "dagster-webserver",
            [
                str(bin_dir / "dagster-webserver"),
                "-w",
                workspace,
                "-h",
                "127.0.0.1",
                "-p",
                str(settings.dagster_port),
            ],
            url=f"http://127.0.0.1:{settings.dagster_port}",
            env=dagster_env,
            liveness=answers(f"http://127.0.0.1:{settings.dagster_port}/server_info"),
        ),
        Service(
            "dagster-daemon",
            [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
            url="",
            env=dagster_env,
            stop_tier=0,
            # The daemon's threads beat every 30 s.
            liveness=heartbeat_fresh(_database(url, "dagster", "psycopg"), DAGSTER_HEARTBEAT, 150),
        ),
        *([redis_service(settings)] if celery else []),
        Service(
            "airflow-api-server",
            [airflow, "api-server"],
            url=f"http://127.0.0.1:{settings.airflow_port} (admin / admin)",
            env=airflow_vars,
            liveness=answers(f"http://127.0.0.1:{settings.airflow_port}/api/v2/monitor/health"),
        ),
        # Both beat every few seconds; after a database outage the scheduler can be left
        # running but idle, which only its heartbeat shows.
        *(
            Service(
                f"airflow-{command}",
                [airflow, command],
                url="",
                env=airflow_vars,
                stop_tier=0,
                liveness=heartbeat_fresh(airflow_db, AIRFLOW_HEARTBEAT, 30, job_type),
            )
            for command, job_type in (
                ("scheduler", "SchedulerJob"),
                ("dag-processor", "DagProcessorJob"),
            )
        ),
        *(celery_workers(settings, airflow, airflow_vars) if celery else []),
    ]


def restart_policy(settings: Settings) -> RestartPolicy:
    return RestartPolicy(
        first_delay=1.0,
        max_delay=settings.restart_max_delay_seconds,
        max_crashes=settings.restart_max_crashes,
        window=settings.restart_window_seconds,
    )


DATABASES = ("creditops", "dagster", "airflow", "mlflow")


def start_embedded_database(settings: Settings, supervisor: Supervisor) -> str:
    """The embedded cluster as a supervised service (restarted if it dies); its URL.

    A cluster left running by `creditops db start` is stopped first and started again
    under the supervisor, on a port kept across restarts so that URLs stay valid.
    """
    cluster = embedded_cluster(settings)
    cluster.stop()
    port = cluster.choose_port()
    service = supervisor.start(
        Service(
            "postgres",
            cluster.server_command(port),
            url=f"127.0.0.1:{port}",
            user=cluster.server_user,
            cwd=Path("/"),
            stop_signal=signal.SIGINT,  # PostgreSQL's fast shutdown
            stop_tier=2,
        )
    )
    cluster.wait_until_ready(service.process)
    for name in DATABASES:
        cluster.create_database(name)
    return cluster.url()


def run_platform(settings: Settings) -> int:
    """What `make run` does: everything up, URLs printed, Ctrl-C stops it all."""
    prepare_data_folders(settings)
    data_docs.vendor(settings.docs_dir)  # a missing install says so now, not at the first file
    with Supervisor(
        settings.logs_dir, restart_policy(settings), metrics_port=settings.supervisor_metrics_port
    ) as supervisor:
        url = settings.database_url or start_embedded_database(settings, supervisor)
        migrate(url)
        check_database(engine_for(url))
        print(f"PostgreSQL      {describe_url(url)}", flush=True)
        mlflow = supervisor.start(mlflow_service(settings, url))
        wait_until_answers(f"{mlflow.url}/health", 120, "the MLflow server")
        print(f"{mlflow.name:<21} {mlflow.url}", flush=True)
        version, trained = ensure_model(settings, url)
        print(
            f"model           creditops version {version} is champion "
            f"({'trained now' if trained else 'existing'})",
            flush=True,
        )
        split = prepare_raw_data(settings)
        if split:
            print(
                f"raw-data        {split} files split from the dataset into {settings.raw_data_dir}"
            )
        services = platform_services(settings, url)
        migrate_airflow(settings, airflow_env(settings, url))
        for service in services:
            supervisor.start(service)
            if service.url:
                print(f"{service.name:<21} {service.url}", flush=True)
        print(
            f"schedules run on: {settings.orchestrator} (CREDITOPS_ORCHESTRATOR); logs in "
            f"{settings.logs_dir}; `creditops status` shows every service. "
            "Press Ctrl-C to stop.",
            flush=True,
        )
        return supervisor.run()
