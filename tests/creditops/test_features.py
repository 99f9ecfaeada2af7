"""The feature spec and the schemas derived from it."""

import pandas as pd
import pandera.pandas as pa
import pytest
from pydantic import TypeAdapter, ValidationError

from creditops.features import (
    CATEGORICAL_FEATURES,
    EXAMPLE_APPLICANT,
    FEATURE_NAMES,
    FEATURES,
    IDENTIFIER,
    NUMERIC_FEATURES,
    TARGET,
)
from creditops.schemas import Applicant, applicant_frame_schema, with_nulls

from ..conftest import DATASET

VALID = EXAMPLE_APPLICANT
APPLICANT = TypeAdapter(Applicant)


def test_the_dataset_has_the_target_and_exactly_the_declared_features():
    columns = pd.read_csv(DATASET, nrows=0).columns
    assert set(columns) == {TARGET, *FEATURE_NAMES}
    assert len(FEATURES) == 13


def test_every_row_of_the_dataset_satisfies_the_frame_schema():
    frame = pd.read_csv(DATASET)
    validated = applicant_frame_schema().validate(frame, lazy=True)
    assert list(validated.columns) == list(FEATURE_NAMES)  # the label is filtered out
    assert len(validated) == len(frame)


def test_the_declared_nullable_columns_are_the_ones_with_missing_values():
    frame = pd.read_csv(DATASET)
    with_missing = {c for c in FEATURE_NAMES if frame[c].isna().any()}
    assert with_missing == {f.name for f in FEATURES if f.nullable}


def test_the_frame_schema_reports_each_kind_of_bad_value():
    frame = pd.DataFrame([VALID] * 4)
    frame.loc[0, "Age"] = -12
    frame["Home"] = frame["Home"].astype(object)
    frame.loc[1, "Home"] = "castle"
    frame.loc[2, "Records"] = None
    frame.loc[3, "Amount"] = 5_000  # above Price
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        applicant_frame_schema().validate(frame, lazy=True)
    failures = caught.value.failure_cases
    failed = set(zip(failures["column"].fillna("<frame>"), failures["check"], strict=True))
    assert ("Age", "in_range(18, 100)") in failed
    assert any(column == "Home" and "isin" in check for column, check in failed)
    assert ("Records", "not_nullable") in failed
    assert any(check == "amount_within_price" for _, check in failed)


def test_a_valid_applicant_is_accepted_and_nullable_features_may_be_null_or_left_out():
    without_id = {IDENTIFIER: None}  # optional: the service makes one
    assert with_nulls(APPLICANT.validate_python(VALID)) == {**without_id, **VALID}
    nulls = {f.name: None for f in FEATURES if f.nullable}
    assert APPLICANT.validate_python({**VALID, **nulls}) == {**VALID, **nulls}
    left_out = {k: v for k, v in VALID.items() if k not in nulls}
    assert with_nulls(APPLICANT.validate_python(left_out)) == {**without_id, **VALID, **nulls}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Age", -12),
        ("Age", "30"),  # a string is not a number, even a numeric one
        ("Age", 30.5),
        ("Home", "castle"),
        ("Records", None),  # not nullable
        ("Income", "a lot"),
        ("Price", 10**9),
    ],
)
def test_a_bad_value_is_rejected_naming_its_field(field, value):
    with pytest.raises(ValidationError) as caught:
        APPLICANT.validate_python({**VALID, field: value})
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_unknown_and_missing_fields_are_rejected():
    with pytest.raises(ValidationError) as caught:
        APPLICANT.validate_python({**VALID, "Status": "good"})
    assert caught.value.errors()[0]["type"] == "extra_forbidden"
    required = {f.name for f in FEATURES if not f.nullable}
    for name in required:
        with pytest.raises(ValidationError):
            APPLICANT.validate_python({k: v for k, v in VALID.items() if k != name})


def test_request_model_ranges_and_categories_come_from_the_spec():
    schema = APPLICANT.json_schema()["properties"]
    for feature in NUMERIC_FEATURES:
        bounds = schema[feature.name].get("anyOf", [schema[feature.name]])[0]
        assert (bounds["minimum"], bounds["maximum"]) == (feature.minimum, feature.maximum)
    for feature in CATEGORICAL_FEATURES:
        options = schema[feature.name].get("anyOf", [schema[feature.name]])[0]
        assert tuple(options["enum"]) == feature.categories
