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
    return Settings(data_root=data_root, dataset_path=DATASET, database_url=database_url)


@pytest.fixture(scope="session")
def trained_model(settings: Settings) -> ModelArtifact:
    return train_model(DATASET, settings.models_dir, settings.random_seed, settings.test_size)


@pytest.fixture
def recorded_model(engine, trained_model: ModelArtifact, settings: Settings) -> ModelArtifact:
    """The trained model, with its row in the (emptied) model_versions table."""
    record_model_version(engine, trained_model, settings.models_dir)
    return trained_model
