"""Shared fixtures: a real PostgreSQL cluster and MLflow server for the session; a model."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from creditops.db import engine_for, metadata, migrate
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.lifecycle.registry import CHALLENGER, CHAMPION, Registry
from creditops.lifecycle.training_set import frozen_split
from creditops.model import ModelArtifact
from creditops.settings import PROJECT_ROOT, Settings
from creditops.stack import mlflow_service, wait_until_answers
from creditops.training import load_dataset, train_model

DATASET = PROJECT_ROOT / "data" / "credit_risk.csv"


def server_reachable_dir(prefix: str) -> Path:
    """A temporary folder PostgreSQL's server user can reach (mkdtemp makes it 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o711)
    return folder


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    root = server_reachable_dir("creditops-test-pg-")
    cluster = EmbeddedPostgres(root / "cluster", preferred_port=0, durable=False)
    cluster.start()
    yield cluster
    cluster.destroy()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    url = postgres.url()
    migrate(url)
    return url


@pytest.fixture
def engine(database_url: str):
    """The migrated test database, emptied before each test."""
    engine = engine_for(database_url)
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture(scope="session")
def data_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="creditops-test-data-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def wait_for(check, timeout: float = 20, interval: float = 0.05):
    """Poll `check` until it returns something true; that. Fails the test on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def tracking_uri(postgres: EmbeddedPostgres, database_url: str, data_root: Path) -> Iterator[str]:
    """A real MLflow server (the one `creditops run` starts) for the session's registry."""
    postgres.create_database("mlflow")
    settings = Settings(data_root=data_root, database_url=database_url, mlflow_port=free_port())
    service = mlflow_service(settings, database_url)
    service.start(data_root)
    try:
        wait_until_answers(f"{service.url}/health", 120, "the test MLflow server")
        yield service.url
    finally:
        service.process.terminate()
        service.process.wait(30)


@pytest.fixture(scope="session")
def settings(data_root: Path, database_url: str, tracking_uri: str) -> Settings:
    return Settings(
        data_root=data_root,
        dataset_path=DATASET,
        database_url=database_url,
        mlflow_tracking_uri=tracking_uri,
        raw_file_settle_seconds=0,  # tests write a file and ingest it at once
        prometheus_port=free_port(),  # none there unless a test starts one
    )


@pytest.fixture(scope="session")
def frozen_sets(settings: Settings):
    """The dataset's training part and its frozen held-out part."""
    return frozen_split(load_dataset(DATASET), settings.random_seed, settings.test_size)


@pytest.fixture(scope="session")
def trained_model(frozen_sets) -> ModelArtifact:
    """The model trained on the dataset's training part (not registered)."""
    train, holdout = frozen_sets
    return train_model(train, holdout, seed=42)


@pytest.fixture(scope="session")
def registry(settings: Settings) -> Registry:
    return Registry(settings.tracking_uri)


@pytest.fixture(scope="session")
def registered_model(registry: Registry, trained_model: ModelArtifact, frozen_sets):
    register(registry, trained_model, frozen_sets[0], reason="first")
    return trained_model


def register(registry, artifact, train, reason: str = "test") -> str:
    """Register `artifact` with a few rows of `train` as its example; its version."""
    return registry.register(
        artifact, {"fingerprint": reason, "rows": len(train)}, train.head(5), {"reason": reason}
    )


@pytest.fixture(scope="module")
def weak_model(frozen_sets):
    """Trained on 120 rows: clearly worse than a model of the whole training part."""
    train, holdout = frozen_sets
    return train_model(train.sample(120, random_state=1), holdout, seed=42)


@pytest.fixture
def weak_champion(recorded_model, registry, weak_model, frozen_sets):
    if weak_model.version is None:
        register(registry, weak_model, frozen_sets[0])
    registry.set_alias(CHAMPION, weak_model.version)
    return weak_model


@pytest.fixture
def recorded_model(engine, registry: Registry, registered_model) -> ModelArtifact:
    """The trained model, registered and champion; no challenger."""
    registry.set_alias(CHAMPION, registered_model.version)
    registry.drop_alias(CHALLENGER)
    return registered_model


class TeamsReceiver:
    """A stand-in for the Teams webhook on 127.0.0.1 that records what it got."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        self.fail_next = 0  # answer 500 to this many requests first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def teams() -> Iterator[TeamsReceiver]:
    receiver = TeamsReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def static_server():
    """Serve a folder over HTTP on 127.0.0.1 (what the Data Docs server does)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def serve(folder: Path) -> str:
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()


@pytest.fixture
def ingest_settings(tmp_path, database_url, engine, teams, static_server) -> Settings:
    """An empty data root, alerts to the Teams stand-in, reports on a local server."""
    root = tmp_path / "data"
    (root / "reports").mkdir(parents=True)
    return Settings(
        data_root=root,
        dataset_path=DATASET,
        database_url=database_url,
        teams_webhook_url=teams.url,
        reports_url=static_server(root / "reports"),
        raw_file_settle_seconds=0,
    )


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The model service on a real port (uvicorn in a thread); its URL."""
    import threading
    import time

    import uvicorn

    from api.main import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def model_service(settings: Settings, recorded_model) -> Iterator[str]:
    """The model service on the test database, serving the registry's champion."""
    with serving(settings) as url:
        yield url
