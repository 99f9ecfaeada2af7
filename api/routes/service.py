"""Health, the served model, the registry's versions, retraining, and Prometheus metrics."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import JSONResponse
from mlflow.exceptions import MlflowException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from creditops.lifecycle.retraining import (
    active_retraining,
    request_retraining,
    retrainings_history,
)

from ..deps import ReadyStateDep, StateDep, require_api_key
from ..schemas import (
    Health,
    ModelDescription,
    RegisteredVersion,
    Retraining,
    RetrainRequest,
)
from .predictions import ERRORS

log = logging.getLogger(__name__)
router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(state: StateDep) -> JSONResponse:
    """Ready (200) only when the database answers and the model is loaded."""
    state.connect()
    ready = state.problem is None and state.artifact is not None
    body = Health(
        status="ok" if ready else "unavailable",
        database="ok" if state.engine is not None and ready else (state.problem or "unknown"),
        model="ok" if state.artifact is not None else (state.problem or "not loaded"),
        model_version=state.artifact.version if state.artifact else None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/model", response_model=ModelDescription)
def served_model(state: ReadyStateDep) -> dict:
    """The model version this service scores with (the registry's champion), and its
    metrics on the frozen held-out set."""
    meta = state.artifact.metadata
    return {
        "version": state.artifact.version,
        "algorithm": meta["algorithm"],
        "trained_at": meta["trained_at"],
        "threshold": state.artifact.threshold,
        "n_train": meta["n_train"],
        "n_test": meta["n_test"],
        "metrics": meta["metrics"],
        "served": True,
    }


def _describe(version: dict, served: str) -> dict:
    tags, params = version["tags"], version["params"]

    def number(key: str) -> int | None:
        return int(params[key]) if key in params else None

    return {
        "version": version["version"],
        "created_at": datetime.fromtimestamp(version["created_at"] / 1000, UTC),
        "aliases": version["aliases"],
        "served": version["version"] == served,
        "reason": tags.get("reason"),
        "gate": tags.get("gate"),
        "gate_reasons": tags.get("gate_reasons"),
        "legacy_version": tags.get("legacy_version"),
        "training_rows": number("training_set.rows"),
        "outcome_rows": number("training_set.outcome_rows"),
        "training_set_fingerprint": params.get("training_set.fingerprint"),
        "metrics": {
            k.removeprefix("holdout."): v
            for k, v in version["metrics"].items()
            if k.startswith("holdout.")
        },
        "run_id": version["run_id"],
    }


@router.get("/models", response_model=list[RegisteredVersion])
def model_versions(state: ReadyStateDep) -> list[dict]:
    """Every version in the registry, newest first (as last read, when it is down)."""
    try:
        state.versions = state.registry.versions()
    except MlflowException as exc:
        log.warning("the registry did not answer; listing its versions as last read: %s", exc)
    return [_describe(v, state.artifact.version) for v in state.versions]


@router.get("/model/retrainings", response_model=list[Retraining])
def retrainings(state: ReadyStateDep) -> list[dict]:
    """The last 50 retrainings, newest first: trigger, steps' results, verdict."""
    return retrainings_history(state.engine)


@router.post(
    "/model/retrain",
    response_model=Retraining,
    status_code=202,
    responses={
        **ERRORS,
        409: {**ERRORS[503], "description": "A retraining is requested or running already."},
    },
    dependencies=[Depends(require_api_key)],
    summary="Ask the orchestrators for a retraining (one at a time)",
)
def retrain(state: ReadyStateDep, body: RetrainRequest | None = None) -> dict:
    by = (body or RetrainRequest()).requested_by
    try:
        requested = request_retraining(state.engine, "manual", f"asked by {by}", by)
        if requested is None:
            active = active_retraining(state.engine) or {}
            raise HTTPException(
                409,
                f"retraining {active.get('id')} ({active.get('reason')}) is "
                f"{active.get('status')}: one at a time",
            )
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable: retraining not requested") from exc
    return requested


@router.get("/metrics", include_in_schema=False)
def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
