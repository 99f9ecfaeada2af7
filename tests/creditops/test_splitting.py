"""Splitting the dataset into N raw files."""

from __future__ import annotations

import pandas as pd
import pytest

from creditops.errors import CreditopsError
from creditops.features import FEATURE_NAMES, IDENTIFIER
from creditops.splitting import application_ids, read_raw, split_dataset

from ..conftest import DATASET


def rows_of(paths) -> pd.DataFrame:
    frames = [read_raw(p) for p in paths]
    return pd.concat(frames, ignore_index=True)


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Compare as the files store it: text cells, sorted rows."""
    text = frame.astype(object).where(frame.notna(), None).astype(str)
    return text.sort_values(list(text.columns)).reset_index(drop=True)


@pytest.mark.parametrize(("dataset_rows", "n_files"), [(None, 1), (None, 7), (20, 25)])
def test_split_writes_exactly_n_files_whose_union_is_the_dataset(tmp_path, dataset_rows, n_files):
    dataset = DATASET
    if dataset_rows is not None:  # more files than rows: some files are header-only
        dataset = tmp_path / "small.csv"
        pd.read_csv(DATASET).head(dataset_rows).to_csv(dataset, index=False)
    raw = tmp_path / "raw-data"
    files = split_dataset(dataset, raw, n_files)
    assert len(files) == n_files == len(list(raw.glob("*.csv")))
    assert not list(raw.glob(".*"))  # no partial files left behind
    union = rows_of(f.path for f in files)
    original = pd.read_csv(dataset, dtype=str, keep_default_na=False, na_values=[""])
    assert list(union.columns) == [IDENTIFIER, *FEATURE_NAMES]  # the label is dropped
    expected = original.drop(columns="Status")
    expected.insert(0, IDENTIFIER, application_ids(len(expected)))
    assert len(union) == len(expected) == union[IDENTIFIER].nunique()  # one id each
    pd.testing.assert_frame_equal(as_text(union), as_text(expected))


def test_file_sizes_differ_by_at_most_one_row(tmp_path):
    sizes = [f.rows for f in split_dataset(DATASET, tmp_path, 7)]
    assert max(sizes) - min(sizes) <= 1


def test_names_sort_by_creation_and_never_collide_with_earlier_files(tmp_path):
    first = [f.path.name for f in split_dataset(DATASET, tmp_path, 3)]
    second = [f.path.name for f in split_dataset(DATASET, tmp_path, 3)]
    assert first == sorted(first) and second == sorted(second)
    assert max(first) < min(second)
    assert len(set(tmp_path.glob("*.csv"))) == 6


def test_a_share_of_files_gets_recorded_errors(tmp_path):
    files = split_dataset(DATASET, tmp_path, 10, error_share=0.5)
    assert sum(1 for f in files if f.errors) == 5


@pytest.mark.parametrize(("n_files", "share"), [(0, 0.0), (3, 1.5)])
def test_bad_arguments_are_refused(tmp_path, n_files, share):
    with pytest.raises(CreditopsError):
        split_dataset(DATASET, tmp_path, n_files, error_share=share)
