"""The error generator: each kind changes what it says and nothing else."""

from __future__ import annotations

import pandas as pd
import pytest

from creditops.data_errors import ERROR_KINDS, FILE_KINDS, FRAME_KINDS, inject
from creditops.features import CROSS_COLUMN_RULES, FEATURES_BY_NAME, NumericFeature
from creditops.splitting import read_raw, write_atomically

from ..conftest import DATASET


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    frame = pd.read_csv(DATASET).drop(columns="Status").sample(200, random_state=3)
    return frame.reset_index(drop=True)


def written(tmp_path, corruption) -> pd.DataFrame:
    path = tmp_path / "file.csv"
    write_atomically(path, corruption)
    return read_raw(path)


def differing_cells(before: pd.DataFrame, after: pd.DataFrame) -> set[tuple[int, str]]:
    before, after = before.fillna("<empty>"), after.fillna("<empty>")
    return {
        (row, column)
        for column in after.columns
        for row in range(len(before))
        if before.at[row, column] != after.at[row, column]
    }


def test_there_are_at_least_nine_kinds_plus_four_file_kinds():
    assert len(FRAME_KINDS) >= 9
    assert set(FILE_KINDS) == {"empty_file", "header_only", "not_csv", "wrong_delimiter"}
    assert all(kind.description for kind in ERROR_KINDS.values())


CELL_KINDS = [
    "missing_value",
    "unknown_category",
    "wrong_type",
    "not_a_number",
    "out_of_range",
    "extreme_outlier",
    "impossible_combination",
]


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_a_cell_kind_changes_exactly_the_recorded_cells(tmp_path, clean, kind):
    corruption = inject(clean, [kind], seed=7, share=0.1)
    (error,) = corruption.errors
    assert error.kind == kind and len(error.rows) == 20
    changed_column = error.columns[0]
    after = written(tmp_path, corruption)
    before = read_raw_clean(tmp_path, clean)
    assert differing_cells(before, after) == {(r, changed_column) for r in error.rows}


def read_raw_clean(tmp_path, clean) -> pd.DataFrame:
    path = tmp_path / "clean.csv"
    clean.to_csv(path, index=False)
    return read_raw(path)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_each_kind_breaks_the_rule_it_names(clean, kind):
    corruption = inject(clean, [kind], seed=11, share=0.1)
    (error,) = corruption.errors
    column = error.columns[0]
    values = corruption.frame.loc[error.rows, column]
    feature = FEATURES_BY_NAME[column]
    if kind == "missing_value":
        assert values.isna().all() and not feature.nullable
    elif kind in ("unknown_category", "wrong_type"):
        assert not values.isin(feature.categories).any()
        assert values.str.isdigit().all() == (kind == "wrong_type")
    elif kind == "not_a_number":
        assert pd.to_numeric(values, errors="coerce").isna().all()
    elif kind == "out_of_range":
        assert (pd.to_numeric(values) < feature.minimum).all()
    elif kind == "extreme_outlier":
        assert isinstance(feature, NumericFeature)
        numbers = pd.to_numeric(values)
        assert ((numbers > feature.outlier_above) & (numbers <= feature.maximum)).all()
    elif kind == "impossible_combination":
        rule = CROSS_COLUMN_RULES[0]
        rows = corruption.frame.loc[error.rows]
        assert not rule.holds(pd.to_numeric(rows[rule.left]), pd.to_numeric(rows[rule.right])).any()


def test_duplicates_are_appended_copies_of_untouched_rows(clean):
    corruption = inject(clean, ["duplicate_row"], seed=5, share=0.05)
    (error,) = corruption.errors
    frame = corruption.frame
    assert len(frame) == len(clean) + len(error.rows)
    assert error.rows == list(range(len(clean), len(frame)))
    duplicated = frame.duplicated(keep="first")
    assert sorted(duplicated[duplicated].index) == error.rows
    pd.testing.assert_frame_equal(frame.iloc[: len(clean)], clean, check_dtype=False)


def test_a_missing_column_is_only_that_column(tmp_path, clean):
    corruption = inject(clean, ["missing_column"], seed=2)
    (error,) = corruption.errors
    after = written(tmp_path, corruption)
    assert error.columns[0] not in after.columns
    before = read_raw_clean(tmp_path, clean).drop(columns=error.columns)
    assert differing_cells(before, after) == set()


def test_kinds_combined_touch_disjoint_rows_and_the_record_matches(tmp_path, clean):
    kinds = ["missing_value", "unknown_category", "out_of_range", "duplicate_row"]
    corruption = inject(clean, kinds, seed=9, share=0.05)
    assert [e.kind for e in corruption.errors] == kinds
    all_rows = [r for e in corruption.errors for r in e.rows]
    assert len(all_rows) == len(set(all_rows))
    after = written(tmp_path, corruption)
    before = read_raw_clean(tmp_path, clean)
    cells = {(r, e.columns[0]) for e in corruption.errors if e.columns for r in e.rows}
    assert differing_cells(before, after.iloc[: len(clean)]) == cells


@pytest.mark.parametrize("kind", FILE_KINDS)
def test_file_kinds_write_the_broken_file_they_name(tmp_path, clean, kind):
    corruption = inject(clean, [kind], seed=1)
    path = tmp_path / "f.csv"
    write_atomically(path, corruption)
    content = path.read_bytes()
    if kind == "empty_file":
        assert content == b""
    elif kind == "header_only":
        assert content.decode().strip().split(",") == list(clean.columns)
    elif kind == "wrong_delimiter":
        header, *rows = content.decode().splitlines()
        assert header.split(";") == list(clean.columns) and len(rows) == len(clean)
    else:
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")


def test_the_same_seed_gives_the_same_file(clean):
    a = inject(clean, ["wrong_type", "duplicate_row"], seed=4)
    b = inject(clean, ["wrong_type", "duplicate_row"], seed=4)
    assert a.errors == b.errors
    pd.testing.assert_frame_equal(a.frame, b.frame)


def test_unknown_kinds_and_two_file_kinds_are_refused(clean):
    with pytest.raises(ValueError, match="unknown error kinds"):
        inject(clean, ["gremlins"], seed=1)
    with pytest.raises(ValueError, match="one file-level error"):
        inject(clean, ["empty_file", "not_csv"], seed=1)
