"""What routes depend on: the serving state (database, model, batcher) and the API key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine

from creditops.db import check_database, database_url, engine_for
from creditops.errors import CreditopsError
from creditops.model import ModelArtifact, load_artifact, record_model_version
from creditops.predictions import PredictionBatcher
from creditops.settings import Settings
from creditops.supervision import status_file

from .observability import ServiceMetrics


@dataclass
class ServingState:
    """The service's long-lived parts; each may be missing, and /health says which."""

    settings: Settings
    metrics: ServiceMetrics | None = None
    engine: Engine | None = None
    artifact: ModelArtifact | None = None
    batcher: PredictionBatcher | None = None
    problem: str | None = None

    def __post_init__(self) -> None:
        if self.metrics is None:
            self.metrics = ServiceMetrics(status_file(self.settings.logs_dir))

    def connect(self) -> None:
        """Open the database and load the model; on failure keep the reason and retry later."""
        try:
            if self.engine is None:
                self.engine = engine_for(database_url(self.settings))
            check_database(self.engine)
            if self.artifact is None:
                artifact = load_artifact(self.settings.models_dir)
                record_model_version(self.engine, artifact, self.settings.models_dir)
                self.artifact = artifact
                self.batcher = PredictionBatcher(
                    self.engine, artifact, max_rows=self.settings.max_batch_rows
                )
            self.problem = None
        except CreditopsError as exc:
            self.problem = str(exc)

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.close()


async def get_state(request: Request) -> ServingState:
    return request.app.state.serving


StateDep = Annotated[ServingState, Depends(get_state)]


async def ready_state(state: StateDep) -> ServingState:
    """The state, once database and model are both there; else 503 with the reason.

    Async, like every dependency here, so a request never waits for a thread pool.
    """
    if state.batcher is None:
        state.connect()
    if state.batcher is None or state.engine is None:
        raise HTTPException(503, f"service not ready: {state.problem}")
    return state


ReadyStateDep = Annotated[ServingState, Depends(ready_state)]


async def require_api_key(
    state: StateDep,
    x_api_key: Annotated[
        str | None, Header(description="Required when the service has a key.")
    ] = None,
) -> None:
    expected = state.settings.api_key
    if expected is None:
        return
    if x_api_key is None or not secrets.compare_digest(x_api_key, expected.get_secret_value()):
        raise HTTPException(401, "missing or wrong X-API-Key header")
