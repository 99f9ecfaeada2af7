"""Split the labelled dataset into N raw files (label dropped) for the ingestion job."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .data_errors import FILE_KINDS, FRAME_KINDS, Corruption, InjectedError, inject
from .errors import CreditopsError
from .features import IDENTIFIER, TARGET
from .training import load_dataset


@dataclass(frozen=True)
class RawFile:
    path: Path
    rows: int
    errors: list[InjectedError]


def raw_file_name(created: datetime, index: int, total: int) -> str:
    """Names sort by creation time, then by index; the random tail makes collisions impossible."""
    stamp = created.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{index + 1:0{len(str(total))}d}of{total}-{uuid.uuid4().hex[:6]}.csv"


def write_atomically(path: Path, corruption: Corruption) -> None:
    """Write beside the target under a dot-name, then rename: readers never see half a file."""
    partial = path.with_name(f".{path.name}.partial")
    corruption.write(partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.link(partial, path)  # fails instead of overwriting an existing file
    partial.unlink()


def application_ids(n_rows: int) -> list[str]:
    """The dataset's applications, named by their row: the same row, the same id."""
    return [f"A{row:06d}" for row in range(n_rows)]


def split_dataset(
    dataset: Path,
    raw_dir: Path,
    n_files: int,
    seed: int = 42,
    error_share: float = 0.0,
    outcomes_dir: Path | None = None,
) -> list[RawFile]:
    """Shuffle the dataset, name each application, drop the label, and write exactly
    `n_files` CSV files.

    With `error_share` > 0, that share of the files gets one or more injected
    error kinds (recorded in the result); the rest are the dataset's rows as they are.
    With `outcomes_dir`, each file's labels are kept there under the same name
    (`application_id, status, decided_at`), for the outcomes to come back later.
    """
    if n_files < 1:
        raise CreditopsError(f"the number of files must be at least 1, not {n_files}")
    if not 0 <= error_share <= 1:
        raise CreditopsError(f"the share of files with errors must be in [0, 1], not {error_share}")
    frame = load_dataset(dataset)
    frame.insert(0, IDENTIFIER, application_ids(len(frame)))
    rng = np.random.default_rng(seed)
    shuffled = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    raw_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    corrupted = set(rng.choice(n_files, size=round(error_share * n_files), replace=False).tolist())
    written = []
    if outcomes_dir is not None:
        outcomes_dir.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(np.array_split(np.arange(len(shuffled)), n_files)):
        rows = shuffled.iloc[part].drop(columns=TARGET)
        if index in corrupted:
            corruption = inject(rows, _random_kinds(rng), seed=int(rng.integers(2**31)))
        else:
            corruption = Corruption(rows, [])
        path = raw_dir / raw_file_name(created, index, n_files)
        if outcomes_dir is not None:
            labels = shuffled.iloc[part][[IDENTIFIER, TARGET]].rename(columns={TARGET: "status"})
            labels["decided_at"] = created.isoformat()
            write_atomically(outcomes_dir / path.name, Corruption(labels, []))
        write_atomically(path, corruption)
        written.append(RawFile(path, len(corruption.frame), corruption.errors))
    return written


def _random_kinds(rng: np.random.Generator) -> list[str]:
    """Mostly one or two row-level kinds; now and then a broken file."""
    if rng.random() < 0.15:
        return [str(rng.choice(FILE_KINDS))]
    return [str(k) for k in rng.choice(FRAME_KINDS, size=int(rng.integers(1, 3)), replace=False)]


def write_manifest(files: list[RawFile], path: Path) -> None:
    """One JSON line per file: its name, rows and injected errors."""
    with path.open("a") as manifest:
        for raw in files:
            record = {
                "file": raw.path.name,
                "rows": raw.rows,
                "errors": [e.as_dict() for e in raw.errors],
            }
            manifest.write(json.dumps(record) + "\n")


def read_raw(path: Path) -> pd.DataFrame:
    """A raw file as written (every cell kept as text) for comparing with what was injected."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
