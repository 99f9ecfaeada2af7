"""Schemas derived from the feature spec: pydantic for JSON, pandera for DataFrames."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandera.pandas as pa
from pydantic import BaseModel, ConfigDict, Field, create_model

from .features import (
    CROSS_COLUMN_RULES,
    FEATURES,
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


class _ApplicantBase(BaseModel):
    # strict: "30" is not an age and 30.5 is not a number of years; ints are
    # still accepted where a float is expected.
    model_config = ConfigDict(extra="forbid", strict=True)


Applicant: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Applicant",
    __base__=_ApplicantBase,
    __doc__="One loan application: the features the model scores.",
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
