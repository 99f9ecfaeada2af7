"""Bring the platform up locally: database, model, folders, and the services as child processes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from .db import check_database, describe_url, embedded_cluster, engine_for, migrate
from .errors import ModelUnavailable
from .model import ModelArtifact, load_artifact, record_model_version
from .settings import PROJECT_ROOT, Settings
from .training import train_model


def bring_up_database(settings: Settings) -> str:
    """Start the embedded cluster unless DATABASE_URL is set, migrate, and return the URL."""
    url = settings.database_url or embedded_cluster(settings).start()
    migrate(url)
    check_database(engine_for(url))
    return url


def ensure_model(settings: Settings, url: str, force: bool = False) -> tuple[ModelArtifact, bool]:
    """The served model, trained first when there is none (or `force`); recorded in the database."""
    trained = False
    try:
        if force:
            raise ModelUnavailable("retraining on request")
        artifact = load_artifact(settings.models_dir)
    except ModelUnavailable:
        if not force and (settings.models_dir / "CURRENT").exists():
            raise  # a corrupt model is reported, never silently replaced
        artifact = train_model(
            settings.dataset, settings.models_dir, settings.random_seed, settings.test_size
        )
        trained = True
    record_model_version(engine_for(url), artifact, settings.models_dir)
    return artifact, trained


def prepare_data_folders(settings: Settings) -> None:
    for folder in (
        settings.raw_data_dir,
        settings.good_data_dir,
        settings.bad_data_dir,
        settings.reports_dir,
        settings.models_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)


@dataclass
class Service:
    """A long-running child process, in a session of its own."""

    name: str
    command: list[str]
    url: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self, log_dir: Path) -> None:
        log = (log_dir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            self.command,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PROJECT_ROOT,
        )


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> None:
    """Make this process the parent of last resort of everything it starts from now on.

    A process whose parent dies is re-parented here instead of to init, so it is still
    found below this one; services' processes start sessions of their own, outlive their
    parents (Dagster's code servers) and overwrite their environment (Airflow's API
    server), so neither process groups nor environment marks find them all. Linux only.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def process_table() -> list[tuple[int, str, int]]:
    """(pid, state, parent pid) of every process, from /proc; state "Z" is a zombie."""
    table = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        table.append((int(stat.parent.name), fields[0], int(fields[1])))
    return table


def descendants(pid: int) -> list[int]:
    """Every living process below `pid`."""
    children: dict[int, list[int]] = {}
    for child, state, parent in process_table():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def reap_orphans(services: list[Service]) -> None:
    """Collect the exit status of ended orphans re-parented here (not our services': their
    Popen does), so that no zombie is left."""
    ours = {s.process.pid for s in services if s.process is not None}
    for pid, state, parent in process_table():
        if state == "Z" and parent == os.getpid() and pid not in ours:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def stop_services(services: list[Service], timeout: float = 15) -> None:
    """SIGTERM every process below this one, also those started meanwhile or orphaned;
    SIGKILL what is left after `timeout`."""
    deadline = time.monotonic() + timeout
    signalled: set[int] = set()
    while left := descendants(os.getpid()):
        if time.monotonic() < deadline:
            _signal_all([pid for pid in left if pid not in signalled], signal.SIGTERM)
            signalled.update(left)
        else:
            _signal_all(left, signal.SIGKILL)
        for service in services:
            if service.process is not None:
                service.process.poll()  # collects our own children's exit
        reap_orphans(services)
        time.sleep(0.2)
    for service in services:
        if service.process is not None:
            service.process.wait()
    reap_orphans(services)


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def supervise(
    services: list[Service], log_dir: Path, on_stop=None, stop_timeout: float = 15
) -> int:
    """Start every service, wait for Ctrl-C / SIGTERM or a service dying, then stop them all.

    Everything below this process is stopped: call it from a process that started nothing
    else it wants to keep (the database is started before, and is not below it)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    become_subreaper()
    try:
        for service in services:
            service.start(log_dir)
        while not stopping:
            for service in services:
                if service.process is not None and service.process.poll() is not None:
                    print(
                        f"{service.name} exited with code {service.process.returncode}; "
                        f"see {log_dir / (service.name + '.log')}. Stopping everything.",
                        file=sys.stderr,
                    )
                    exit_code, stopping = 1, True
            reap_orphans(services)
            time.sleep(0.5)
    finally:
        print("Stopping...", flush=True)
        stop_services(services, stop_timeout)
        if on_stop is not None:
            on_stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


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
    )
    return len(files)


def _database(url: str, name: str, driver: str) -> str:
    """The URL of another database on the same server."""
    parsed = make_url(url).set(database=name, drivername=f"postgresql+{driver}")
    return parsed.render_as_string(hide_password=False)


DAGSTER_YAML = """\
# Written by `creditops run`; the URL comes from the environment.
storage:
  postgres:
    postgres_url:
      env: CREDITOPS_DAGSTER_STORAGE_URL
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
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
    ]


def platform_services(settings: Settings, url: str) -> list[Service]:
    """The long-running services of the local stack, in start order."""
    env = {"CREDITOPS_DATABASE_URL": url, "CREDITOPS_DATA_ROOT": str(settings.data_root)}
    bin_dir = Path(sys.executable).parent
    python = sys.executable
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    (settings.dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    passwords = settings.airflow_home / "passwords.json"
    if not passwords.exists():
        passwords.write_text('{"admin": "admin"}')
    airflow_paused = settings.orchestrator == "dagster"
    airflow_url = f"http://127.0.0.1:{settings.airflow_port}"
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
        ),
        Service(
            "webapp",
            webapp_command(settings.webapp_port),
            url=f"http://127.0.0.1:{settings.webapp_port}",
            env={**env, "CREDITOPS_API_URL": settings.model_service_url},
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
        ),
        Service(
            "dagster",
            [
                str(bin_dir / "dagster"),
                "dev",
                "-w",
                str(PROJECT_ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(settings.dagster_port),
            ],
            url=f"http://127.0.0.1:{settings.dagster_port}",
            env={
                **env,
                "DAGSTER_HOME": str(settings.dagster_home),
                "CREDITOPS_DAGSTER_STORAGE_URL": _database(url, "dagster", "psycopg2"),
            },
        ),
        Service(
            "airflow",
            [str(bin_dir / "airflow"), "standalone"],
            url=f"{airflow_url} (admin / admin)",
            env={
                **env,
                "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                "AIRFLOW_HOME": str(settings.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "airflow_dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(airflow_paused),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _database(url, "airflow", "psycopg"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _database(
                    url, "airflow", "psycopg_async"
                ),
                "AIRFLOW__API__PORT": str(settings.airflow_port),
                "AIRFLOW__API__BASE_URL": airflow_url,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            },
        ),
    ]


def run_platform(settings: Settings) -> int:
    """What `make run` does: everything up, URLs printed, Ctrl-C stops it all."""
    prepare_data_folders(settings)
    url = bring_up_database(settings)
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        for name in ("dagster", "airflow"):
            cluster.create_database(name)
    print(f"PostgreSQL      {describe_url(url)}", flush=True)
    artifact, trained = ensure_model(settings, url)
    roc_auc = artifact.metadata["metrics"]["roc_auc"]
    print(
        f"model           {artifact.version} ({'trained now' if trained else 'existing'}, "
        f"ROC AUC {roc_auc:.3f})",
        flush=True,
    )
    split = prepare_raw_data(settings)
    if split:
        print(f"raw-data        {split} files split from the dataset into {settings.raw_data_dir}")
    services = platform_services(settings, url)
    for service in services:
        print(f"{service.name:<15} {service.url}", flush=True)
    print(
        f"schedules run on: {settings.orchestrator} (CREDITOPS_ORCHESTRATOR); logs in "
        f"{settings.data_root / 'logs'}. Press Ctrl-C to stop.",
        flush=True,
    )
    cluster = None if settings.database_url else embedded_cluster(settings)
    return supervise(
        services, settings.data_root / "logs", on_stop=cluster.stop if cluster else None
    )
