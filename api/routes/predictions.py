"""POST /predict and GET /past-predictions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Query, Response
from sqlalchemy.exc import SQLAlchemyError

from creditops.predictions import PredictionRequest, past_predictions, prediction_summary
from creditops.schemas import IsoDatetime, with_nulls

from ..deps import ReadyStateDep, require_api_key
from ..json_body import MsgspecJsonRoute
from ..schemas import (
    ErrorResponse,
    PastPredictionsPage,
    PredictRequest,
    PredictResponse,
    SummaryBucket,
)

router = APIRouter(tags=["predictions"], route_class=MsgspecJsonRoute)

ERRORS = {
    400: {"model": ErrorResponse, "description": "The body cannot be decoded."},
    401: {"model": ErrorResponse, "description": "Missing or wrong API key."},
    413: {"model": ErrorResponse, "description": "Too many applicants or too large a body."},
    422: {"model": ErrorResponse, "description": "A row or field is invalid; it is named."},
    503: {"model": ErrorResponse, "description": "Database or model unavailable."},
}
READ_ERRORS = {status: ERRORS[status] for status in (422, 503)}  # of the GET routes


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def time_window(
    start: datetime | None, end: datetime | None, default: timedelta = timedelta(days=1)
) -> tuple[datetime, datetime]:
    """[start, end) in UTC; default the `default` before end (or now); 422 if reversed."""
    end = _as_utc(end) if end else datetime.now(UTC)
    if start is None:
        earliest = datetime.min.replace(tzinfo=UTC) + default
        start = end - default if end >= earliest else datetime.min.replace(tzinfo=UTC)
    start = _as_utc(start)
    if start > end:
        raise HTTPException(422, "start must not be after end")
    return start, end


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=ERRORS,
    dependencies=[Depends(require_api_key)],
    summary="Score one or many applicants and store every prediction",
)
async def predict(body: PredictRequest, state: ReadyStateDep) -> Response:
    if len(body.applicants) > state.settings.max_batch_rows:
        raise HTTPException(
            413,
            f"{len(body.applicants)} applicants in one request; at most "
            f"{state.settings.max_batch_rows}: split the batch",
        )
    applicants = [with_nulls(applicant) for applicant in body.applicants]
    request = PredictionRequest(applicants, body.source, body.source_file)
    try:
        batch = await asyncio.wrap_future(state.batcher.submit(request))
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable: prediction not stored") from exc
    for label in ("good", "bad"):
        count = batch.predictions.count(label)
        if count:
            state.metrics.predictions.labels(label, batch.source).inc(count)
    payload = {
        "batch_id": batch.batch_id,
        "predicted_at": batch.predicted_at,
        "model_version": batch.model_version,
        "source": batch.source,
        "source_file": batch.source_file,
        "count": len(applicants),
        "predictions": [
            {
                "application_id": application_id,
                "prediction": label,
                "probability_bad": probability,
                "model_version": batch.model_version,
                "reasons": msgspec.Raw(reasons),  # JSON already
            }
            for application_id, label, probability, reasons in zip(
                batch.application_ids,
                batch.predictions,
                batch.probabilities_bad,
                batch.reasons,
                strict=True,
            )
        ],
    }
    # Built from the batch, so already of PredictResponse's shape: validating 10,000
    # rows again would cost more than scoring them (docs/benchmarks.md).
    return Response(msgspec.json.encode(payload), media_type="application/json")


@router.get(
    "/past-predictions",
    response_model=PastPredictionsPage,
    responses=READ_ERRORS,
    summary="Stored predictions in a time range, newest first, one page at a time",
)
def get_past_predictions(
    state: ReadyStateDep,
    start: Annotated[
        IsoDatetime | None, Query(description="Inclusive; default: 24 hours before `end`.")
    ] = None,
    end: Annotated[IsoDatetime | None, Query(description="Exclusive; default: now.")] = None,
    source: Literal["webapp", "scheduled", "all"] = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict:
    start, end = time_window(start, end)
    try:
        items, next_cursor = past_predictions(
            state.engine, start, end, None if source == "all" else source, limit, cursor
        )
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable") from exc
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/past-predictions/summary",
    response_model=list[SummaryBucket],
    responses=READ_ERRORS,
    summary="Predictions per time bucket and class, for charts",
)
def get_prediction_summary(
    state: ReadyStateDep,
    start: Annotated[IsoDatetime | None, Query(description="Default: 24 h before end.")] = None,
    end: Annotated[IsoDatetime | None, Query(description="Default: now.")] = None,
    source: Literal["webapp", "scheduled", "all"] = "all",
    bucket: Literal["minute", "hour", "day"] = "hour",
) -> list[dict]:
    start, end = time_window(start, end)
    try:
        return prediction_summary(
            state.engine, start, end, None if source == "all" else source, bucket
        )
    except SQLAlchemyError as exc:
        raise HTTPException(503, "database unavailable") from exc
