"""Read-only monitoring: the dashboards' panels, run with the queries Grafana runs
(SQL on the database, PromQL on Prometheus)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.exc import SQLAlchemyError

from creditops.monitoring import DASHBOARDS, PANELS, run_panel
from creditops.prometheus import PrometheusUnavailable, query_panel

from ..deps import ReadyStateDep
from ..schemas import ErrorResponse

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


@router.get("/dashboards")
def dashboards() -> list[dict]:
    """The dashboards and their panels (no data), with each panel's thresholds."""
    return [
        {
            "uid": d.uid,
            "title": d.title,
            "description": d.description,
            "panels": [
                {
                    "key": p.key,
                    "title": p.title,
                    "description": p.description,
                    "kind": p.kind,
                    "unit": p.unit,
                    "decimals": p.decimals,
                    "thresholds": p.threshold.steps(),
                    "colours": p.colours,
                    "coloured_by": p.coloured_by,
                    "source": p.source,
                    "in_webapp": p.in_webapp,
                }
                for p in d.panels
            ],
        }
        for d in DASHBOARDS
    ]


@router.get(
    "/panels/{key}",
    responses={
        404: {"model": ErrorResponse, "description": "No such panel."},
        422: {"model": ErrorResponse, "description": "A parameter is invalid; it is named."},
        503: {
            "model": ErrorResponse,
            "description": "Database, model or (for service panels) Prometheus unavailable.",
        },
    },
)
def panel_rows(
    key: str,
    state: ReadyStateDep,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 30,
) -> list[dict]:
    """The panel's rows over the last `minutes`."""
    panel = PANELS.get(key)
    if panel is None:
        raise HTTPException(404, f"no panel {key!r}; see /monitoring/dashboards")
    end = datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    if panel.source == "prometheus":
        try:
            return query_panel(state.settings.prometheus_base_url, panel, start, end)
        except PrometheusUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
    try:
        rows = run_panel(state.engine, panel, start, end)
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable") from exc
    return [
        {k: (float(v) if hasattr(v, "is_finite") else v) for k, v in row.items()} for row in rows
    ]
