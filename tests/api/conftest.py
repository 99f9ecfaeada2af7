"""A model service on the test database, with the session's trained model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from creditops.settings import Settings

from ..creditops.test_features import VALID


@pytest.fixture
def make_client(settings: Settings, recorded_model):
    """Build a client with settings overrides; the database is emptied per test."""
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(Settings(**{**settings.model_dump(), **overrides})))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


@pytest.fixture
def applicant() -> dict:
    return dict(VALID)
