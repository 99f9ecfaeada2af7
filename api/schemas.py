"""Request and response bodies of the model service; applicants come from the feature spec."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from creditops.features import CLASSES
from creditops.schemas import Applicant

Source = Literal["webapp", "scheduled"]


class PredictRequest(BaseModel):
    """One applicant or many: a single prediction is a list of one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": "webapp",
                    "applicants": [
                        {
                            "Seniority": 9,
                            "Home": "rent",
                            "Time": 60,
                            "Age": 30,
                            "Marital": "married",
                            "Records": "no",
                            "Job": "freelance",
                            "Expenses": 73,
                            "Income": 129.0,
                            "Assets": 0.0,
                            "Debt": 0.0,
                            "Amount": 800,
                            "Price": 846,
                        }
                    ],
                }
            ]
        },
    )

    source: Source = Field(description="Who asks: the webapp, or the scheduled prediction job.")
    source_file: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="For scheduled predictions: the file the rows came from."
    )
    applicants: list[Applicant] = Field(min_length=1)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _source_file_only_for_scheduled(self) -> PredictRequest:
        if self.source_file is not None and self.source != "scheduled":
            raise ValueError("source_file is only for source 'scheduled'")
        return self


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
