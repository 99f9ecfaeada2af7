"""Request and response bodies of the model service; applicants come from the feature spec."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from creditops.features import CLASSES, EXAMPLE_APPLICANT
from creditops.schemas import TEXT_PATTERN, Applicant, Features, Outcome

Source = Literal["webapp", "scheduled"]


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
    source_file: (
        Annotated[str, Field(min_length=1, max_length=255, pattern=TEXT_PATTERN)] | None
    ) = Field(
        default=None, description="The file the rows came from (a scheduled run's, an upload's)."
    )
    applicants: list[Applicant] = Field(min_length=1)  # type: ignore[valid-type]


class Reason(BaseModel):
    """A feature that pushed the score towards `bad`, as the scoring version explains it."""

    feature: str
    value: str | float | int | None
    contribution: float = Field(description="Log-odds of `bad` this feature added.")
    text: str = Field(examples=["Income 80 is low: 92% of applicants have more"])


class Prediction(BaseModel):
    application_id: str | None = Field(
        description="The caller's id, or the one the service made; null for old rows."
    )
    prediction: Literal[CLASSES]  # type: ignore[valid-type]
    probability_bad: float = Field(ge=0, le=1)
    model_version: str
    reasons: list[Reason] | None = Field(
        description="Up to CREDITOPS_REASON_COUNT features that pushed the score towards "
        "`bad` the most, strongest first; null for rows scored before reasons existed."
    )


class PredictResponse(BaseModel):
    """The predictions in the order of `applicants`; features are not echoed back (the
    caller has them; GET /past-predictions returns them with what was stored)."""

    batch_id: uuid.UUID
    predicted_at: datetime
    model_version: str
    source: Source
    source_file: str | None
    count: int
    predictions: list[Prediction]


class PastPrediction(Prediction):
    id: int
    features: Features  # type: ignore[valid-type]
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


class RegisteredVersion(BaseModel):
    """A version of the registry's model `creditops`."""

    version: str
    created_at: datetime
    aliases: list[str] = Field(description="`champion` (served), `challenger` (being judged).")
    served: bool
    reason: str | None = Field(description="Why it was trained: first, drift, outcomes, ...")
    gate: str | None = Field(description="`passed` or `rejected` by the promotion gate.")
    gate_reasons: str | None
    legacy_version: str | None = Field(description="Its name before the registry, if any.")
    training_rows: int | None
    outcome_rows: int | None
    training_set_fingerprint: str | None
    metrics: dict[str, float] = Field(description="On the frozen held-out set.")
    run_id: str


class RetrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requested_by: str = Field(default="api", min_length=1, max_length=100, pattern=TEXT_PATTERN)


class Retraining(BaseModel):
    id: int
    reason: str
    detail: str
    requested_by: str
    requested_at: datetime
    status: Literal["requested", "running", "promoted", "rejected", "failed"]
    orchestrator: str | None
    started_at: datetime | None
    finished_at: datetime | None
    champion_version: str | None
    challenger_version: str | None
    training_set: dict | None
    evaluation: dict | None
    error: str | None


class ErrorDetail(BaseModel):
    row: int | None = Field(description="Index of the applicant in `applicants`, if any.")
    field: str | None
    message: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[ErrorDetail] = []


class InvalidRows(Exception):
    """Rows that validate alone but not together (or not against the database): a 422."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"{len(errors)} invalid row(s)")
        self.errors = errors


class OutcomesRequest(BaseModel):
    """Outcomes pushed by another system; the same id again is idempotent."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "outcomes": [
                        {
                            "application_id": "A000042",
                            "status": "bad",
                            "decided_at": "2026-11-20T09:30:00Z",
                        }
                    ]
                }
            ]
        },
    )

    outcomes: list[Outcome] = Field(min_length=1)


class OutcomesSaved(BaseModel):
    saved: int = Field(description="Outcomes of applications that had none.")
    corrected: int = Field(description="Outcomes that replaced a different earlier one.")
    unchanged: int = Field(description="Repeats of what was known: nothing changed.")


class PerformanceRow(BaseModel):
    model_version: str
    n_predictions: int
    n_labelled: int = Field(description="Predictions whose outcome came back.")
    roc_auc: float | None = Field(description="Null until both classes came back.")
    precision_bad: float | None
    recall_bad: float | None
    brier: float | None = Field(description="Mean squared error of probability_bad.")
    approval_rate: float | None = Field(description="Share predicted good.")
    awaiting_share: float = Field(description="Share of predictions still without outcome.")


class PerformanceBucket(PerformanceRow):
    bucket: datetime = Field(description="Start of the bucket of prediction time (UTC).")


class LivePerformance(BaseModel):
    start: datetime
    end: datetime
    bucket: str
    totals: list[PerformanceRow] = Field(description="Per model version over the window.")
    buckets: list[PerformanceBucket]
    held_out_roc_auc: dict[str, float] = Field(
        description="Each version's ROC AUC on the held-out data when it was trained."
    )


class SummaryBucket(BaseModel):
    bucket: datetime
    prediction: Literal[CLASSES]  # type: ignore[valid-type]
    count: int
    mean_probability_bad: float


class FairnessGroup(BaseModel):
    group: str
    judged: bool = Field(description="False below CREDITOPS_FAIRNESS_MIN_GROUP_ROWS rows.")
    rows: int
    approval_rate: float = Field(description="Share predicted good.")
    approval_ratio: float | None = Field(description="Approval rate / the most approved group's.")
    roc_auc: float | None = Field(description="Null when the group has one class only.")
    false_positive_rate: float | None = Field(description="Good loans predicted bad.")
    false_negative_rate: float | None = Field(description="Bad loans predicted good.")


class FairnessAttribute(BaseModel):
    title: str
    reference_group: str | None = Field(description="The most approved judged group.")
    worst_group: str | None
    worst_ratio: float | None
    groups: list[FairnessGroup]


class FairnessReport(BaseModel):
    rows: int
    min_group_rows: int
    worst_ratio: float | None = Field(description="Lowest approval-rate ratio over attributes.")
    attributes: dict[str, FairnessAttribute] = Field(description="`age_band`, `marital`.")


class ModelFairness(BaseModel):
    model_version: str
    min_ratio: float = Field(description="The gate's floor (four-fifths rule: 0.8).")
    held_out: FairnessReport | None = Field(
        description="On the frozen held-out set, as the gate judged the version; null for "
        "versions judged before fairness reports."
    )
    live: FairnessReport | None = Field(
        description="On the version's predictions in [start, end) whose outcome came back."
    )
    start: datetime
    end: datetime
