"""POST /outcomes (labels pushed by other systems); what they tell: GET /model/performance
and GET /model/fairness."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.exc import SQLAlchemyError

from creditops.errors import ModelUnavailable
from creditops.lifecycle.fairness import live_fairness
from creditops.outcomes import check_outcomes, reject_never_predicted, save_pushed_outcomes
from creditops.performance import Bucket, live_performance
from creditops.schemas import NAME_PATTERN, IsoDatetime

from ..deps import ReadyStateDep, require_api_key
from ..json_body import MsgspecJsonRoute
from ..schemas import (
    InvalidRows,
    LivePerformance,
    ModelFairness,
    OutcomesRequest,
    OutcomesSaved,
)
from .predictions import ERRORS, READ_ERRORS, time_window

router = APIRouter(tags=["outcomes"], route_class=MsgspecJsonRoute)

# The window of prediction time that live outcomes are read for.
MonthStart = Annotated[
    IsoDatetime | None, Query(description="Of prediction time; default: 30 days before end.")
]
End = Annotated[IsoDatetime | None, Query(description="Exclusive; default: now.")]


@router.post(
    "/outcomes",
    response_model=OutcomesSaved,
    responses=ERRORS,
    dependencies=[Depends(require_api_key)],
    summary="Store how applications ended; a repeat changes nothing, a different one corrects",
)
def post_outcomes(body: OutcomesRequest, state: ReadyStateDep) -> dict:
    if len(body.outcomes) > state.settings.max_batch_rows:
        raise HTTPException(
            413,
            f"{len(body.outcomes)} outcomes in one request; at most "
            f"{state.settings.max_batch_rows}: split the batch",
        )
    checked = check_outcomes([o.model_dump() for o in body.outcomes])
    try:
        reject_never_predicted(state.engine, checked)
        if checked.problems:  # all or nothing, as for /predict
            raise InvalidRows(
                [{"row": p.row, "field": p.field, "message": p.message} for p in checked.problems]
            )
        return save_pushed_outcomes(state.engine, list(checked.valid.values()))
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable: outcomes not stored") from exc


@router.get(
    "/model/performance",
    response_model=LivePerformance,
    responses=READ_ERRORS,
    summary="Live performance: predictions joined with their outcomes, per version and bucket",
)
def get_performance(
    state: ReadyStateDep,
    start: MonthStart = None,
    end: End = None,
    bucket: Bucket = "day",
    model_version: Annotated[str | None, Query(max_length=100, pattern=NAME_PATTERN)] = None,
) -> dict:
    start, end = time_window(start, end, default=timedelta(days=30))
    try:
        performance = live_performance(state.engine, start, end, bucket, model_version)
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable") from exc
    return {
        "start": start,
        "end": end,
        "bucket": bucket,
        **performance,
        "held_out_roc_auc": {
            v["version"]: v["metrics"]["holdout.roc_auc"]
            for v in state.versions
            if "holdout.roc_auc" in v["metrics"]
        },
    }


@router.get(
    "/model/fairness",
    response_model=ModelFairness,
    responses=READ_ERRORS,
    summary="Approval rate, ROC AUC and error rates by age band and marital status",
)
def get_fairness(
    state: ReadyStateDep,
    model_version: Annotated[
        str | None,
        Query(max_length=100, pattern=NAME_PATTERN, description="Default: the served version."),
    ] = None,
    start: MonthStart = None,
    end: End = None,
) -> dict:
    version = model_version or state.artifact.version
    start, end = time_window(start, end, default=timedelta(days=30))
    settings = state.settings
    try:
        held_out = state.registry.fairness(version)
    except ModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    try:
        live = live_fairness(state.engine, version, start, end, settings.fairness_min_group_rows)
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable") from exc
    return {
        "model_version": version,
        "min_ratio": settings.fairness_min_ratio,
        "held_out": held_out,
        "live": live,
        "start": start,
        "end": end,
    }
