"""The kinds of data error: their names (shared with validation) and a seeded generator.

Each kind is a documented, reproducible transformation of a clean frame of
applicants (or, for file-level kinds, of the file's bytes). Every injection is
recorded (kind, rows, columns) so a test can check that validation finds
exactly what was injected. Targets are taken from the feature spec.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .features import (
    CATEGORICAL_FEATURES,
    CROSS_COLUMN_RULES,
    FEATURES,
    NUMERIC_FEATURES,
    NumericFeature,
)

# Columns in a cross-column rule are left alone by the single-column kinds, so
# that one injection never causes a second kind of error by accident.
_IN_RULES = {name for rule in CROSS_COLUMN_RULES for name in (rule.left, rule.right)}
_REQUIRED = [f.name for f in FEATURES if not f.nullable]


@dataclass(frozen=True)
class InjectedError:
    """What one injection did: `rows` are 0-based positions in the written file's data rows."""

    kind: str
    columns: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ErrorKind:
    name: str
    description: str
    level: str  # "row", "column", "file", or "delivery" (a file against earlier files)
    invalidates_rows: bool = True  # False: reported, but the rows stay valid


ERROR_KINDS: dict[str, ErrorKind] = {
    kind.name: kind
    for kind in (
        ErrorKind("missing_column", "A required column is absent from the file.", "column"),
        ErrorKind("missing_value", "A required column has empty cells.", "row"),
        ErrorKind("unknown_category", "A category the feature does not have (Home=castle).", "row"),
        ErrorKind("wrong_type", "A number in a categorical column (Marital=42).", "row"),
        ErrorKind("not_a_number", "Text in a numeric column (Income=twelve).", "row"),
        ErrorKind("out_of_range", "A value outside the feature's possible range (Age=-12).", "row"),
        ErrorKind(
            "extreme_outlier",
            "A possible value far beyond the population (Income=9000).",
            "row",
        ),
        ErrorKind(
            "impossible_combination",
            "Columns that contradict each other (Amount above Price).",
            "row",
        ),
        ErrorKind(
            "unexpected_column",
            "A column the model does not know: reported and dropped; the rows stay valid.",
            "column",
            invalidates_rows=False,
        ),
        ErrorKind(
            "duplicate_row",
            "An exact repeat of an earlier row of the same file (every repeat beyond the "
            "first is flagged; the first is kept).",
            "row",
        ),
        ErrorKind("empty_file", "A file with no bytes at all.", "file"),
        ErrorKind("header_only", "A file with the header and no rows.", "file"),
        ErrorKind("not_csv", "A file that is not CSV text (binary content).", "file"),
        ErrorKind(
            "wrong_delimiter",
            "A file whose columns are separated by another character than commas "
            "(semicolons, as a European Excel writes).",
            "file",
        ),
        ErrorKind(
            "duplicate_file",
            "A copy of a file ingested before, under another name: set aside whole.",
            "delivery",
        ),
    )
}
FILE_KINDS = tuple(k for k, v in ERROR_KINDS.items() if v.level == "file")
FRAME_KINDS = tuple(k for k, v in ERROR_KINDS.items() if v.level in ("row", "column"))

_UNKNOWN_CATEGORIES = ("castle", "spaceship", "volcano")
_WORDS = ("twelve", "lots", "abc")


def _pick_rows(available: list[int], share: float, rng: np.random.Generator) -> list[int]:
    count = min(len(available), max(1, round(share * len(available))))
    chosen = rng.choice(available, size=count, replace=False) if count else []
    return sorted(int(i) for i in chosen)


def _integral(feature: NumericFeature, value: float) -> float | int:
    return int(value) if feature.kind == "int" else float(value)


def _set_cells(frame, rows, column, values) -> None:
    frame[column] = frame[column].astype(object)
    for row, value in zip(rows, values, strict=True):
        frame.iat[row, frame.columns.get_loc(column)] = value


def _missing_value(frame, rows, rng):
    column = str(rng.choice(_REQUIRED))
    _set_cells(frame, rows, column, [None] * len(rows))
    return [column]


def _unknown_category(frame, rows, rng):
    column = str(rng.choice([f.name for f in CATEGORICAL_FEATURES]))
    _set_cells(frame, rows, column, rng.choice(_UNKNOWN_CATEGORIES, size=len(rows)).tolist())
    return [column]


def _wrong_type(frame, rows, rng):
    column = str(rng.choice([f.name for f in CATEGORICAL_FEATURES]))
    _set_cells(frame, rows, column, [str(int(v)) for v in rng.integers(1, 99, size=len(rows))])
    return [column]


def _not_a_number(frame, rows, rng):
    column = str(rng.choice([f.name for f in NUMERIC_FEATURES if f.name not in _IN_RULES]))
    _set_cells(frame, rows, column, rng.choice(_WORDS, size=len(rows)).tolist())
    return [column]


def _out_of_range(frame, rows, rng):
    feature = rng.choice([f for f in NUMERIC_FEATURES if f.name not in _IN_RULES])
    below = feature.minimum - rng.integers(1, 50, size=len(rows))
    _set_cells(frame, rows, feature.name, [_integral(feature, v) for v in below])
    return [feature.name]


def _extreme_outlier(frame, rows, rng):
    candidates = [f for f in NUMERIC_FEATURES if f.outlier_above and f.name not in _IN_RULES]
    feature = candidates[int(rng.integers(len(candidates)))]
    values = rng.uniform(feature.outlier_above * 1.1, feature.maximum, size=len(rows))
    _set_cells(frame, rows, feature.name, [_integral(feature, v) for v in values])
    return [feature.name]


def _impossible_combination(frame, rows, rng):
    rule = CROSS_COLUMN_RULES[0]
    # Amount just above Price: in range, not an outlier, only the rule is broken.
    right = pd.to_numeric(frame[rule.right].iloc[rows])
    _set_cells(frame, rows, rule.left, [int(v) + int(rng.integers(1, 100)) for v in right])
    return [rule.left, rule.right]


_ROW_INJECTORS: dict[str, Callable[[pd.DataFrame, list[int], np.random.Generator], list[str]]] = {
    "missing_value": _missing_value,
    "unknown_category": _unknown_category,
    "wrong_type": _wrong_type,
    "not_a_number": _not_a_number,
    "out_of_range": _out_of_range,
    "extreme_outlier": _extreme_outlier,
    "impossible_combination": _impossible_combination,
}


@dataclass
class Corruption:
    """A corrupted frame (or raw file content) and the record of what was done to it."""

    frame: pd.DataFrame
    errors: list[InjectedError]
    content: bytes | None = None  # set for file-level kinds: write these bytes instead

    def write(self, path: Path) -> None:
        if self.content is not None:
            path.write_bytes(self.content)
        else:
            self.frame.to_csv(path, index=False)


def inject(frame: pd.DataFrame, kinds: Sequence[str], seed: int, share: float = 0.1) -> Corruption:
    """Apply each kind once to a copy of `frame`, each on its own rows (about `share` of them)."""
    unknown = [k for k in kinds if k not in ERROR_KINDS]
    if unknown:
        raise ValueError(f"unknown error kinds {unknown}; known: {', '.join(ERROR_KINDS)}")
    rng = np.random.default_rng(seed)
    corrupted = frame.reset_index(drop=True).copy()
    errors: list[InjectedError] = []
    free = list(range(len(corrupted)))

    for kind in kinds:
        if kind not in _ROW_INJECTORS or not free:
            continue
        rows = _pick_rows(free, share, rng)
        free = [i for i in free if i not in set(rows)]
        errors.append(InjectedError(kind, _ROW_INJECTORS[kind](corrupted, rows, rng), rows))

    if "duplicate_row" in kinds and free:
        originals = _pick_rows(free, share, rng)
        start = len(corrupted)
        corrupted = pd.concat([corrupted, corrupted.iloc[originals]], ignore_index=True)
        errors.append(
            InjectedError("duplicate_row", [], list(range(start, start + len(originals))))
        )

    if "unexpected_column" in kinds:
        corrupted["Branch_comment"] = "call back on Monday"
        errors.append(
            InjectedError("unexpected_column", ["Branch_comment"], list(range(len(corrupted))))
        )

    if "missing_column" in kinds:
        used = {c for e in errors for c in e.columns}
        column = str(rng.choice([c for c in _REQUIRED if c not in used]))
        corrupted = corrupted.drop(columns=column)
        errors.append(InjectedError("missing_column", [column], list(range(len(corrupted)))))

    file_kinds = [k for k in kinds if k in FILE_KINDS]
    if len(file_kinds) > 1:
        raise ValueError(f"a file can have one file-level error, not {file_kinds}")
    if file_kinds:
        content = {
            "empty_file": b"",
            "header_only": (",".join(corrupted.columns) + "\n").encode(),
            "not_csv": bytes(rng.integers(0, 256, size=512, dtype=np.uint8)) + b"\xff\xfe\x00",
            "wrong_delimiter": corrupted.to_csv(sep=";", index=False).encode(),
        }[file_kinds[0]]
        return Corruption(corrupted.iloc[0:0], [InjectedError(file_kinds[0])], content)
    return Corruption(corrupted, errors)
