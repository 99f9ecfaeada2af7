"""Bring the platform up locally: database, model, folders, and the services as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .db import check_database, embedded_cluster, engine_for, migrate
from .errors import ModelUnavailable
from .model import ModelArtifact, load_artifact, record_model_version
from .settings import Settings
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
    """A long-running child process in its own process group, so stopping it stops its children."""

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
        )

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def supervise(services: list[Service], log_dir: Path, on_stop=None) -> int:
    """Start every service, wait for Ctrl-C / SIGTERM or a service dying, then stop them all."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
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
            time.sleep(0.5)
    finally:
        print("Stopping...", flush=True)
        for service in reversed(services):
            service.stop()
        if on_stop is not None:
            on_stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


def platform_services(settings: Settings, url: str) -> list[Service]:
    """The long-running services of the local stack, in start order."""
    env = {"CREDITOPS_DATABASE_URL": url, "CREDITOPS_DATA_ROOT": str(settings.data_root)}
    python = sys.executable
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
    ]


def run_platform(settings: Settings) -> int:
    """What `make run` does: everything up, URLs printed, Ctrl-C stops it all."""
    prepare_data_folders(settings)
    url = bring_up_database(settings)
    from .db import describe_url

    print(f"PostgreSQL      {describe_url(url)}", flush=True)
    artifact, trained = ensure_model(settings, url)
    roc_auc = artifact.metadata["metrics"]["roc_auc"]
    print(
        f"model           {artifact.version} ({'trained now' if trained else 'existing'}, "
        f"ROC AUC {roc_auc:.3f})",
        flush=True,
    )
    services = platform_services(settings, url)
    for service in services:
        print(f"{service.name:<15} {service.url}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    cluster = None if settings.database_url else embedded_cluster(settings)
    return supervise(
        services, settings.data_root / "logs", on_stop=cluster.stop if cluster else None
    )
