"""Request and response bodies of the model service; applicants come from the feature spec."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from creditops.features import CLASSES, EXAMPLE_APPLICANT
from creditops.schemas import Applicant

Source = Literal["webapp", "scheduled"]


def _iso_8601(value: object) -> object:
    # pydantic would read "1700000000" as a Unix time; the API speaks ISO 8601 only.
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2026-11-23T08:00:00Z")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_8601)]


class PredictRequest(BaseModel):
    """One applicant or many: a single prediction is a list of one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": "webapp",
                    "applicants": [EXAMPLE_APPLICANT],
                }
            ]
        },
    )

    source: Source = Field(description="Who asks: the webapp, or the scheduled prediction job.")
    source_file: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="The file the rows came from (a scheduled run's, an upload's)."
    )
    applicants: list[Applicant] = Field(min_length=1)  # type: ignore[valid-type]


class Prediction(BaseModel):
    prediction: Literal[CLASSES]  # type: ignore[valid-type]
    probability_bad: float = Field(ge=0, le=1)
    model_version: str
    features: Applicant  # type: ignore[valid-type]


class PredictResponse(BaseModel):
    batch_id: uuid.UUID
    predicted_at: datetime
    model_version: str
    source: Source
    source_file: str | None
    count: int
    predictions: list[Prediction]


class PastPrediction(Prediction):
    id: int
    predicted_at: datetime
    source: Source
    source_file: str | None
    batch_id: uuid.UUID


class PastPredictionsPage(BaseModel):
    items: list[PastPrediction]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    model: str
    model_version: str | None


class ModelDescription(BaseModel):
    version: str
    algorithm: str
    trained_at: datetime
    threshold: float
    n_train: int
    n_test: int
    metrics: dict
    served: bool = False


class ErrorDetail(BaseModel):
    row: int | None = Field(description="Index of the applicant in `applicants`, if any.")
    field: str | None
    message: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[ErrorDetail] = []


class SummaryBucket(BaseModel):
    bucket: datetime
    prediction: Literal[CLASSES]  # type: ignore[valid-type]
    count: int
    mean_probability_bad: float
