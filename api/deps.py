"""What routes depend on: the serving state (database, model, batcher) and the API key."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine

from creditops.db import check_database, database_url, engine_for
from creditops.errors import CreditopsError, ModelUnavailable
from creditops.lifecycle.registry import CHAMPION, Registry
from creditops.model import ModelArtifact
from creditops.predictions import PredictionBatcher
from creditops.settings import Settings

from .observability import ServiceMetrics

log = logging.getLogger(__name__)


@dataclass
class ServingState:
    """The service's long-lived parts; each may be missing, and /health says which.

    A watcher thread asks the registry who the champion is every
    `model_poll_seconds`; a new champion is loaded in that thread and swapped in
    between two batches (the batcher reads its model once per batch), so no
    request fails or waits for the load.
    """

    settings: Settings
    metrics: ServiceMetrics | None = None
    engine: Engine | None = None
    artifact: ModelArtifact | None = None
    batcher: PredictionBatcher | None = None
    problem: str | None = None
    versions: list[dict] = field(default_factory=list)  # the registry's, as last seen

    def __post_init__(self) -> None:
        if self.metrics is None:
            self.metrics = ServiceMetrics()
        self.registry = Registry(self.settings.tracking_uri)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def connect(self) -> None:
        """Open the database and load the champion; on failure keep the reason and retry later."""
        try:
            if self.engine is None:
                self.engine = engine_for(database_url(self.settings))
            check_database(self.engine)
            if self.artifact is None:
                self.refresh_model()
            self.problem = None
        except CreditopsError as exc:
            self.problem = str(exc)

    def refresh_model(self) -> None:
        """Read the registry's versions; load and swap in a champion that is not served yet."""
        self.versions = self.registry.versions()
        champion = next((v["version"] for v in self.versions if CHAMPION in v["aliases"]), None)
        if champion is None:
            raise ModelUnavailable(
                f"the registry at {self.settings.tracking_uri} has no champion model: "
                "run `creditops train`"
            )
        if self.artifact is None or self.artifact.version != champion:
            artifact = self.registry.load(champion)
            artifact.explainer  # built here, off the batches' path  # noqa: B018
            self.swap(artifact)

    def swap(self, artifact: ModelArtifact) -> None:
        previous = self.artifact.version if self.artifact else None
        self.artifact = artifact
        if self.batcher is None:
            self.batcher = PredictionBatcher(
                self.engine,
                artifact,
                max_rows=self.settings.max_batch_rows,
                top_reasons=self.settings.reason_count,
            )
        else:
            self.batcher.artifact = artifact  # the next batch scores with it
        if previous is not None:
            log.warning("now serving model version %s (was %s)", artifact.version, previous)

    def watch(self) -> None:
        """Start the watcher thread (once)."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.model_poll_seconds):
            try:
                if self.engine is None or self.artifact is None:
                    self.connect()
                else:
                    self.refresh_model()
            except Exception as exc:  # the registry may be down for a while: keep serving
                log.warning("could not ask the registry for the champion: %s", exc)

    def close(self) -> None:
        self._stop.set()
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
