"""What the Dagster tests share: settings from the environment, as in a run process."""

from __future__ import annotations

import pytest
from dagster import instance_for_test

from creditops.settings import get_settings

from ..conftest import DATASET


@pytest.fixture
def platform_env(monkeypatch, tmp_path, settings, engine):
    """An empty data root; the session's database and registry."""
    monkeypatch.setenv("CREDITOPS_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("CREDITOPS_DATASET_PATH", str(DATASET))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CREDITOPS_MLFLOW_TRACKING_URI", settings.tracking_uri)
    monkeypatch.setenv("CREDITOPS_RAW_FILE_SETTLE_SECONDS", "0")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance
