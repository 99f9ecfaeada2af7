"""Train the model on a labelled frame and evaluate it on a held-out one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigurationError
from .features import (
    CATEGORICAL_FEATURES,
    CLASSES,
    FEATURE_NAMES,
    NUMERIC_FEATURES,
    POSITIVE_CLASS,
    TARGET,
)
from .model import ALGORITHM, ModelArtifact, build_pipeline, spec_fingerprint

THRESHOLD = 0.5
# Numeric baselines keep a sample of raw values for the KS test and decile
# edges for PSI; categorical ones keep the share of each category.
BASELINE_SAMPLE_SIZE = 2_000
PSI_BINS = 10


def load_dataset(path: Path) -> pd.DataFrame:
    """The labelled dataset, checked for the target and every feature."""
    if not path.is_file():
        raise ConfigurationError(
            f"dataset not found at {path}: set CREDITOPS_DATASET_PATH, or restore "
            "data/credit_risk.csv from the repository"
        )
    try:
        frame = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"dataset {path} is not a readable CSV: {exc}") from exc
    missing = [c for c in (TARGET, *FEATURE_NAMES) if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"dataset {path} lacks the columns {', '.join(missing)}")
    unknown = set(frame[TARGET].dropna().unique()) - set(CLASSES)
    if unknown or frame[TARGET].isna().any():
        raise ConfigurationError(
            f"dataset {path}: column {TARGET} must hold only {CLASSES}, found {sorted(unknown)}"
            + (" and missing values" if frame[TARGET].isna().any() else "")
        )
    return frame


def training_baseline(train: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Per-feature distributions of the training data, the reference for drift."""
    baseline: dict[str, Any] = {"n_rows": len(train), "features": {}}
    rng = np.random.default_rng(seed)
    for feature in NUMERIC_FEATURES:
        values = train[feature.name].dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)))
        sample = rng.choice(values, size=min(BASELINE_SAMPLE_SIZE, len(values)), replace=False)
        baseline["features"][feature.name] = {
            "kind": "numeric",
            "mean": float(values.mean()),
            "std": float(values.std()),
            "missing_share": float(train[feature.name].isna().mean()),
            "bin_edges": edges.tolist(),
            "sample": np.sort(sample).tolist(),
        }
    for feature in CATEGORICAL_FEATURES:
        shares = train[feature.name].value_counts(normalize=True, dropna=False)
        baseline["features"][feature.name] = {
            "kind": "categorical",
            "shares": {
                ("<missing>" if pd.isna(k) else str(k)): float(v) for k, v in shares.items()
            },
        }
    return baseline


def evaluate(y_true: pd.Series, predicted: np.ndarray, probability_bad: np.ndarray) -> dict:
    from sklearn.metrics import (  # here: the ingestion runs that load this module never evaluate
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    positive = y_true == POSITIVE_CLASS
    predicted_positive = predicted == POSITIVE_CLASS
    return {
        "roc_auc": float(roc_auc_score(positive, probability_bad)),
        "average_precision": float(average_precision_score(positive, probability_bad)),
        "accuracy": float(accuracy_score(positive, predicted_positive)),
        "precision_bad": float(precision_score(positive, predicted_positive, zero_division=0)),
        "recall_bad": float(recall_score(positive, predicted_positive, zero_division=0)),
        "f1_bad": float(f1_score(positive, predicted_positive, zero_division=0)),
        "brier": float(brier_score_loss(positive, probability_bad)),
        "confusion_matrix": {
            "labels": list(CLASSES),
            "matrix": confusion_matrix(y_true, predicted, labels=list(CLASSES)).tolist(),
        },
    }


def train_model(train: pd.DataFrame, holdout: pd.DataFrame, seed: int) -> ModelArtifact:
    """Fit on `train`, evaluate on the frozen `holdout` (features and target, both).

    The artifact is not registered yet: `lifecycle.registry` gives it a version.
    """
    pipeline = build_pipeline(seed).fit(train[list(FEATURE_NAMES)], train[TARGET])
    artifact = ModelArtifact(
        version=None,
        pipeline=pipeline,
        metadata={
            "algorithm": ALGORITHM,
            "trained_at": datetime.now(UTC).isoformat(),
            "threshold": THRESHOLD,
            "n_train": len(train),
            "n_test": len(holdout),
            "seed": seed,
            "features": spec_fingerprint(),
        },
        baseline=training_baseline(train[list(FEATURE_NAMES)], seed),
    )
    predicted, probability_bad = artifact.score(holdout)
    artifact.metadata["metrics"] = evaluate(holdout[TARGET], predicted, probability_bad)
    return artifact
