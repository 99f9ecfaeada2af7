"""Files validated together get what each would get validated alone."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from creditops import validation
from creditops.data_errors import FILE_KINDS, FRAME_KINDS, inject

from ..conftest import DATASET

# What differs between two validations of the same file: when they ran, and ids.
VOLATILE = re.compile(
    r"\d{8}T\d{6}\.\d{6}Z|\d{4}-\d{2}-\d{2}[T ][\d:.]+(?:\+00:00)?"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[tuple[bytes, str]]:
    """A clean file, one file per kind of problem, one with several kinds at once, and a
    last one with more unexpected values in a column than GX lists (200)."""
    dataset = pd.read_csv(DATASET).drop(columns="Status")
    folder = tmp_path_factory.mktemp("raw")
    problems = [[], *([kind] for kind in (*FRAME_KINDS, *FILE_KINDS))]
    problems.append(["wrong_type", "out_of_range", "impossible_combination", "duplicate_row"])
    problems.append(["missing_value", "not_a_number"])
    contents = []
    for n, kinds in enumerate(problems):
        rows, share = (60, 0.1) if n < len(problems) - 1 else (1_200, 0.4)
        clean = dataset.sample(rows, random_state=n)
        path = folder / f"{n:02d}-{'-'.join(kinds) or 'clean'}.csv"
        inject(clean, kinds, seed=n, share=share).write(path)
        contents.append((path.read_bytes(), path.name))
    return contents


def page_text(report: validation.ValidationReport) -> str:
    return VOLATILE.sub("*", report.report_path.read_text())


def test_a_batch_gives_each_file_the_report_and_page_it_gets_alone(files, tmp_path):
    together = validation.validate_files(files, tmp_path / "together")
    alone = [validation.validate(content, name, tmp_path / "alone") for content, name in files]
    assert [r.file_name for r in together] == [name for _, name in files]
    for batched, single in zip(together, alone, strict=True):
        first, second = batched.to_dict(), single.to_dict()
        assert Path(first.pop("report_path")).parts[-3] == batched.file_name
        second.pop("report_path")
        assert first == second, batched.file_name
        assert page_text(batched) == page_text(single), batched.file_name
        assert "np.float" not in page_text(batched)  # values as people write them
    (combination,) = [r for r in together if r.file_name.endswith("impossible_combination.csv")]
    assert re.search(r"Amount \d+ / Price \d+", page_text(combination))
    assert {r.criticality for r in together} == {"none", "low", "medium", "high"}
    assert max(together[-1].issues.values()) > 200


def test_a_batch_of_files_lists_each_on_the_docs_index(files, tmp_path):
    docs = tmp_path / "docs"
    validation.validate_files(files[:3], docs)
    index = (docs / "index.html").read_text()
    assert all(name in index for _, name in files[:3])
    assert "(3 files validated in all)" in index
