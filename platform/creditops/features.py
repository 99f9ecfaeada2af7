"""The one declaration of the model's input features; every schema is derived from it.

The pandera schema, the API's request model, the Great Expectations suite, the
webapp form, the error generator and the drift baseline all read `FEATURES`,
so changing a feature is a change here (plus a migration for its column).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Literal

TARGET = "Status"
CLASSES = ("good", "bad")
POSITIVE_CLASS = "bad"
# Not a feature (the model never sees it): names one application, so that its
# predictions and the outcome that comes back weeks later join on it.
IDENTIFIER = "application_id"
IDENTIFIER_MAX_LENGTH = 64


@dataclass(frozen=True)
class NumericFeature:
    name: str
    description: str
    kind: Literal["int", "float"]
    minimum: float
    maximum: float
    nullable: bool = False
    unit: str = ""
    # Possible but implausible for this population: flagged as an outlier.
    outlier_above: float | None = None
    decimals: int = 0  # the most the data has: what tables show

    @property
    def python_type(self) -> type:
        return int if self.kind == "int" else float

    @property
    def display_format(self) -> str:
        """printf-style, as people write amounts: `1,234` (thousands separators)."""
        return f"%,.{self.decimals}f" if self.decimals else "%,d"


@dataclass(frozen=True)
class CategoricalFeature:
    name: str
    description: str
    categories: tuple[str, ...]
    nullable: bool = False


Feature = NumericFeature | CategoricalFeature


@dataclass(frozen=True)
class CrossColumnRule:
    """A rule between two columns of one applicant, `left <op> right`."""

    name: str
    description: str
    left: str
    op: Literal["<=", "<", ">=", ">"]
    right: str

    def holds(self, left: Any, right: Any) -> Any:
        """Vectorised over pandas Series too; missing values count as holding."""
        return _OPERATORS[self.op](left, right)


_OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}

# Ranges are hard limits of what is possible (a negative age is wrong), wider than
# what the training data shows. `outlier_above` marks values that are possible but
# far beyond anything seen (several times the training maximum): data errors too.
# The source data has real missing values in the columns marked nullable; the
# model imputes them, so a missing value there is not a data error.
MONEY = "currency units"

FEATURES: tuple[Feature, ...] = (
    NumericFeature("Seniority", "Years with the current employer.", "int", 0, 60, unit="years"),
    CategoricalFeature(
        "Home",
        "Type of home ownership.",
        ("owner", "rent", "parents", "priv", "other", "ignore"),
        nullable=True,
    ),
    NumericFeature("Time", "Requested loan term.", "int", 1, 120, unit="months"),
    NumericFeature("Age", "Age of the applicant.", "int", 18, 100, unit="years"),
    CategoricalFeature(
        "Marital",
        "Marital status.",
        ("married", "single", "separated", "widow", "divorced"),
        nullable=True,
    ),
    CategoricalFeature("Records", "Whether the applicant has past-due records.", ("no", "yes")),
    CategoricalFeature(
        "Job", "Type of employment.", ("fixed", "freelance", "partime", "others"), nullable=True
    ),
    NumericFeature("Expenses", "Monthly expenses.", "int", 0, 2_000, unit=MONEY, outlier_above=600),
    NumericFeature(
        "Income", "Monthly income.", "float", 0, 10_000, True, MONEY, outlier_above=3_000
    ),
    NumericFeature(
        "Assets", "Value of assets.", "float", 0, 1_000_000, True, MONEY, outlier_above=600_000
    ),
    NumericFeature(
        "Debt", "Amount of debt.", "float", 0, 1_000_000, True, MONEY, outlier_above=100_000
    ),
    NumericFeature("Amount", "Requested loan amount.", "int", 1, 100_000, unit=MONEY),
    NumericFeature(
        "Price", "Price of the purchased good.", "int", 1, 200_000, unit=MONEY, outlier_above=40_000
    ),
)

CROSS_COLUMN_RULES: tuple[CrossColumnRule, ...] = (
    CrossColumnRule(
        "amount_within_price",
        "The loan amount cannot exceed the price of the good it pays for.",
        "Amount",
        "<=",
        "Price",
    ),
)

# The dataset's first applicant: the API's documented example and the tests' valid row.
EXAMPLE_APPLICANT: dict = {
    "Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married",
    "Records": "no", "Job": "freelance", "Expenses": 73, "Income": 129.0,
    "Assets": 0.0, "Debt": 0.0, "Amount": 800, "Price": 846,
}  # fmt: skip

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
NUMERIC_FEATURES: tuple[NumericFeature, ...] = tuple(
    f for f in FEATURES if isinstance(f, NumericFeature)
)
CATEGORICAL_FEATURES: tuple[CategoricalFeature, ...] = tuple(
    f for f in FEATURES if isinstance(f, CategoricalFeature)
)
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def column_name(feature_name: str) -> str:
    """The snake_case database column of a feature (`Seniority` -> `seniority`)."""
    return feature_name.lower()
