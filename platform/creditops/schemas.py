"""Schemas derived from the feature spec: pydantic for JSON, pandera for DataFrames."""

from __future__ import annotations

import re
from datetime import datetime
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic wants these on 3.11
)

import pandera.pandas as pa
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, with_config
from typing_extensions import TypedDict

from .features import (
    CLASSES,
    CROSS_COLUMN_RULES,
    FEATURES,
    IDENTIFIER,
    IDENTIFIER_MAX_LENGTH,
    CategoricalFeature,
    Feature,
    NumericFeature,
)


def _pydantic_field(feature: Feature) -> tuple[Any, Any]:
    if isinstance(feature, NumericFeature):
        annotation: Any = Annotated[
            feature.python_type,
            Field(ge=feature.minimum, le=feature.maximum, description=feature.description),
        ]
    else:
        annotation = Annotated[Literal[feature.categories], Field(description=feature.description)]
    if feature.nullable:
        return annotation | None, None
    return annotation, ...


# strict: "30" is not an age and 30.5 is not a number of years; ints are still
# accepted where a float is expected.
STRICT = ConfigDict(extra="forbid", strict=True)


class _ApplicantBase(BaseModel):
    model_config = STRICT


# ASCII letters and digits spelt out: Python's \w would also take any Unicode letter,
# which the OpenAPI schema's (ECMA) \w does not.
NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$"
# Free text we store: PostgreSQL's text cannot hold NUL (a file name may hold a tab).
TEXT_PATTERN = r"^[^\x00]+$"

ApplicationId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=IDENTIFIER_MAX_LENGTH,
        pattern=NAME_PATTERN,
        description="The caller's id of the application (letters, digits, `_.:-`); the "
        "service makes one when it is missing. Not a feature: outcomes join on it.",
    ),
]


def _typed_dict_field(feature: Feature) -> Any:
    annotation, default = _pydantic_field(feature)
    return annotation if default is ... else NotRequired[annotation]


# A typed dict, not a model: a request of 10,000 applicants validates in half the
# time and comes out as the dicts scoring reads. A key left out is null (`with_nulls`).
Applicant: Any = with_config(STRICT)(
    TypedDict(  # type: ignore[operator]
        "Applicant",
        {
            IDENTIFIER: NotRequired[ApplicationId | None],
            **{f.name: _typed_dict_field(f) for f in FEATURES},
        },
    )
)
Applicant.__doc__ = "One loan application: its id and the features the model scores."
NULLS = {IDENTIFIER: None} | {f.name: None for f in FEATURES if f.nullable}


def with_nulls(applicant: dict[str, Any]) -> dict[str, Any]:
    """A validated applicant with every optional key, null where it was left out."""
    return NULLS | applicant


def _iso_8601(value: object) -> object:
    # pydantic would read "1700000000" as a Unix time; we speak ISO 8601 only.
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2026-11-23T08:00:00Z")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_8601)]


class Outcome(BaseModel):
    """How one application's loan ended, reported later than its prediction."""

    model_config = ConfigDict(extra="forbid")

    application_id: ApplicationId
    status: Literal[CLASSES]  # type: ignore[valid-type]
    decided_at: IsoDatetime = Field(description="When the loan ended so (UTC if no zone).")


Features: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Features",
    __base__=_ApplicantBase,
    __doc__="The features a prediction was made from.",
    **{f.name: _pydantic_field(f) for f in FEATURES},
)


def _pandera_column(feature: Feature) -> pa.Column:
    if isinstance(feature, NumericFeature):
        # Nullable ints are floats in pandas, so both kinds are checked as floats
        # and integrality is a check of its own.
        checks = [pa.Check.in_range(feature.minimum, feature.maximum)]
        if feature.kind == "int":
            checks.append(pa.Check(lambda s: s % 1 == 0, element_wise=False, name="is_integer"))
        return pa.Column(float, checks=checks, nullable=feature.nullable, coerce=True)
    assert isinstance(feature, CategoricalFeature)
    return pa.Column(str, checks=[pa.Check.isin(feature.categories)], nullable=feature.nullable)


def applicant_frame_schema() -> pa.DataFrameSchema:
    """The pandera schema of a frame of applicants, cross-column rules included."""
    return pa.DataFrameSchema(
        {f.name: _pandera_column(f) for f in FEATURES},
        checks=[
            pa.Check(
                lambda df, rule=rule: (
                    rule.holds(df[rule.left], df[rule.right])
                    | df[rule.left].isna()
                    | df[rule.right].isna()
                ),
                name=rule.name,
            )
            for rule in CROSS_COLUMN_RULES
        ],
        strict="filter",
        name="applicants",
    )


class UploadProblem(ValueError):
    """An uploaded CSV that cannot be scored; `problems` say where, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def applicants_from_upload(content: bytes, max_rows: int) -> list[dict]:
    """The applicants of an uploaded CSV, checked against the spec; else UploadProblem.

    Lines are counted as a spreadsheet shows them (the header is line 1).
    """
    import io

    import pandas as pd

    if not content.strip():
        raise UploadProblem(["the file is empty"])
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_values=[""])
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UploadProblem([f"not a readable CSV file ({exc.__class__.__name__})"]) from exc
    missing = [f.name for f in FEATURES if f.name not in frame.columns]
    if missing:
        raise UploadProblem([f"missing column(s): {', '.join(missing)}"])
    if frame.empty:
        raise UploadProblem(["the file has a header but no rows"])
    if len(frame) > max_rows:
        raise UploadProblem([f"{len(frame)} rows; at most {max_rows} per upload"])
    ids = frame[IDENTIFIER] if IDENTIFIER in frame.columns else None
    frame = frame[[f.name for f in FEATURES]]
    try:
        typed = applicant_frame_schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        raise UploadProblem(_describe_failures(exc.failure_cases)) from exc
    typed = typed.astype(object).where(typed.notna(), None)
    for feature in FEATURES:
        if isinstance(feature, NumericFeature) and feature.kind == "int":
            typed[feature.name] = [None if v is None else int(v) for v in typed[feature.name]]
    if ids is not None:  # the service makes one for a row without
        typed.insert(0, IDENTIFIER, ids.astype(object).where(ids.notna(), None))
    return typed.to_dict("records")


def _describe_failures(failures, limit: int = 20) -> list[str]:
    """One line per bad cell (or broken cross-column rule), in file order."""
    rules = {rule.name: f"{rule.left}, {rule.right}" for rule in CROSS_COLUMN_RULES}
    problems: dict[tuple[int, str], str] = {}
    for case in failures.itertuples():
        if case.index is None or case.index != case.index:
            continue  # a check that could not run on a column already reported
        row, check = int(case.index), str(case.check)
        if check in rules:
            column, what = rules[check], f"breaks {check}"
        else:
            column = str(case.column)
            value = "empty" if case.failure_case != case.failure_case else repr(case.failure_case)
            reason = (
                "is not a number"
                if check.startswith(("coerce_dtype", "dtype"))
                else (f"fails {check}")
            )
            what = f"{value} {reason}"
        problems.setdefault((row, column), f"line {row + 2}, column {column}: {what}")
    lines = [problems[key] for key in sorted(problems)]
    more = len(lines) - limit
    return lines[:limit] + ([f"... and {more} more"] if more > 0 else [])
