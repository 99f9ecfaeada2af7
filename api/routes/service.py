"""Health, the served model, the model history, and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from creditops.db import model_versions

from ..deps import ReadyStateDep, StateDep
from ..schemas import Health, ModelDescription

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


def _describe(row: dict, served_version: str) -> dict:
    return {
        "version": row["version"],
        "algorithm": row["algorithm"],
        "trained_at": row["trained_at"],
        "threshold": row["metrics"].get("threshold", 0.5),
        "n_train": row["n_train"],
        "n_test": row["n_test"],
        "metrics": row["metrics"],
        "served": row["version"] == served_version,
    }


@router.get("/model", response_model=ModelDescription)
def served_model(state: ReadyStateDep) -> dict:
    """The model version this service scores with, and its held-out metrics."""
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


@router.get("/models", response_model=list[ModelDescription])
def model_history(state: ReadyStateDep) -> list[dict]:
    """Every recorded model version, newest first."""
    query = select(model_versions).order_by(model_versions.c.trained_at.desc())
    with state.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [_describe(dict(row), state.artifact.version) for row in rows]


@router.get("/metrics", include_in_schema=False)
def metrics(state: StateDep) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
