"""Shared fixtures: a real PostgreSQL cluster for the session, migrated; a trained model."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from creditops.db import engine_for, metadata, migrate
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.model import ModelArtifact, record_model_version
from creditops.settings import PROJECT_ROOT, Settings
from creditops.training import train_model

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


@pytest.fixture(scope="session")
def settings(data_root: Path, database_url: str) -> Settings:
    return Settings(
        data_root=data_root,
        dataset_path=DATASET,
        database_url=database_url,
        raw_file_settle_seconds=0,  # tests write a file and ingest it at once
    )


@pytest.fixture(scope="session")
def trained_model(settings: Settings) -> ModelArtifact:
    return train_model(DATASET, settings.models_dir, settings.random_seed, settings.test_size)


@pytest.fixture
def recorded_model(engine, trained_model: ModelArtifact, settings: Settings) -> ModelArtifact:
    """The trained model, with its row in the (emptied) model_versions table."""
    record_model_version(engine, trained_model, settings.models_dir)
    return trained_model


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


@pytest.fixture
def model_service(settings: Settings, recorded_model) -> Iterator[str]:
    """The model service on a real port (uvicorn in a thread), on the test database."""
    import socket
    import threading
    import time

    import uvicorn

    from api.main import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
