"""The training set: the labelled dataset plus the outcomes that came back, fingerprinted.

Two sets judge every model and are never trained on: the frozen held-out part of
the original dataset (the same rows for every model, fixed by the seed), and the
recent window, the newest labelled applications. A labelled application whose
features equal a held-out row's is left out of training too, so that a row that
comes back through the pipeline cannot leak into the models that are judged on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import Engine

from ..db import outcomes, predictions
from ..features import FEATURE_NAMES, TARGET, column_name
from ..training import load_dataset

COLUMNS = [*FEATURE_NAMES, TARGET]


@dataclass(frozen=True)
class TrainingSet:
    """Where a built training set is, and what it holds; plain values, for any orchestrator."""

    fingerprint: str
    folder: str
    n_rows: int
    n_dataset_rows: int
    n_outcome_rows: int
    n_recent_rows: int
    outcomes_until: str | None  # the newest outcome it knows of (ISO time)

    def to_dict(self) -> dict:
        return asdict(self)

    def frame(self, name: str) -> pd.DataFrame:
        """`train` or `recent`: features and the target."""
        return pd.read_parquet(Path(self.folder) / f"{name}.parquet")


def frozen_split(dataset: pd.DataFrame, seed: int, test_size: float):
    """The original dataset's training part and its frozen held-out part (stratified)."""
    train, holdout = train_test_split(
        dataset[COLUMNS], test_size=test_size, stratify=dataset[TARGET], random_state=seed
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def labelled_applications(engine: Engine) -> pd.DataFrame:
    """Each application with an outcome, with the features of its latest prediction,
    oldest outcome first."""
    query = (
        select(
            *(predictions.c[column_name(n)].label(n) for n in FEATURE_NAMES),
            outcomes.c.status.label(TARGET),
            outcomes.c.received_at,
            outcomes.c.application_id,
        )
        .join(predictions, predictions.c.application_id == outcomes.c.application_id)
        .ext(distinct_on(outcomes.c.application_id))
        .order_by(outcomes.c.application_id, predictions.c.predicted_at.desc(), predictions.c.id)
    )
    with engine.connect() as conn:
        frame = pd.DataFrame(
            conn.execute(query).mappings().all(),
            columns=[*COLUMNS, "received_at", "application_id"],
        )
    return frame.sort_values(["received_at", "application_id"], kind="stable", ignore_index=True)


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows' values in order: equal sets, equal fingerprints."""
    hashes = pd.util.hash_pandas_object(frame[COLUMNS], index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    return pd.util.hash_pandas_object(frame[list(FEATURE_NAMES)], index=False)


def build_training_set(
    engine: Engine,
    dataset_path: Path,
    out_dir: Path,
    seed: int,
    test_size: float,
    recent_rows: int,
) -> TrainingSet:
    """Write `train.parquet` and `recent.parquet` into a folder named by the fingerprint."""
    original, holdout = frozen_split(load_dataset(dataset_path), seed, test_size)
    labelled = labelled_applications(engine)
    cut = max(len(labelled) - recent_rows, 0)
    older, recent = labelled.iloc[:cut], labelled.iloc[cut:]
    older = older[~_row_keys(older).isin(set(_row_keys(holdout)))]
    train = pd.concat([original, older[COLUMNS]], ignore_index=True)
    digest = fingerprint(train)
    folder = out_dir / digest[:16]
    folder.mkdir(parents=True, exist_ok=True)
    train.to_parquet(folder / "train.parquet", index=False)
    recent[COLUMNS].to_parquet(folder / "recent.parquet", index=False)
    newest = labelled["received_at"].max() if len(labelled) else None
    return TrainingSet(
        fingerprint=digest,
        folder=str(folder),
        n_rows=len(train),
        n_dataset_rows=len(original),
        n_outcome_rows=len(older),
        n_recent_rows=len(recent),
        outcomes_until=newest.isoformat() if isinstance(newest, datetime) else None,
    )
