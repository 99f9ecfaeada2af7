"""Drift between recent serving data (stored predictions' features) and the training baseline.

Numeric features: Kolmogorov-Smirnov against the baseline sample, and PSI on
the baseline's decile bins. Categorical: chi-square goodness of fit against
the baseline shares, and PSI on the categories. A feature has drifted when
its PSI is 0.2 or more (the usual "significant shift" level) and the test
agrees (p < 0.01); fewer than `min_samples` values give no verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from .db import drift_metrics, predictions
from .features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, column_name
from .model import ModelArtifact

PSI_DRIFT = 0.2
P_VALUE_DRIFT = 0.01
EPSILON = 1e-4  # keeps PSI finite when a bin is empty on one side
MISSING = "<missing>"


def psi(expected: np.ndarray, observed: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    expected = np.clip(expected, EPSILON, None)
    observed = np.clip(observed, EPSILON, None)
    return float(np.sum((observed - expected) * np.log(observed / expected)))


def numeric_drift(reference: dict, values: np.ndarray) -> dict:
    sample = np.asarray(reference["sample"], dtype=float)
    edges = np.asarray(reference["bin_edges"], dtype=float)
    inner = edges[1:-1]  # open-ended outer bins catch values beyond the training range
    expected = np.bincount(np.searchsorted(inner, sample, side="right"), minlength=len(edges) - 1)
    observed = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(edges) - 1)
    test = stats.ks_2samp(sample, values)
    return {
        "test": "ks",
        "statistic": float(test.statistic),
        "p_value": float(test.pvalue),
        "psi": psi(expected / expected.sum(), observed / observed.sum()),
        "n_reference": len(sample),
    }


def categorical_drift(reference: dict, values: pd.Series, n_reference: int) -> dict:
    shares = reference["shares"]
    observed_counts = values.fillna(MISSING).astype(str).value_counts()
    categories = sorted(set(shares) | set(observed_counts.index))
    expected = np.array([shares.get(c, 0.0) for c in categories])
    observed = np.array([observed_counts.get(c, 0) for c in categories], dtype=float)
    expected_counts = np.clip(expected, EPSILON, None)
    expected_counts = expected_counts / expected_counts.sum() * observed.sum()
    test = stats.chisquare(observed, expected_counts)
    return {
        "test": "chi2",
        "statistic": float(test.statistic),
        "p_value": float(test.pvalue),
        "psi": psi(expected, observed / observed.sum()),
        "n_reference": n_reference,
    }


def detect_drift(baseline: dict, serving: pd.DataFrame, min_samples: int) -> list[dict]:
    """One result per feature with enough serving values (features as columns)."""
    results = []
    for feature in NUMERIC_FEATURES:
        values = pd.to_numeric(serving[feature.name], errors="coerce").dropna().to_numpy()
        if len(values) >= min_samples:
            result = numeric_drift(baseline["features"][feature.name], values)
            results.append({"feature": feature.name, "n_current": len(values), **result})
    for feature in CATEGORICAL_FEATURES:
        if len(serving) >= min_samples:
            result = categorical_drift(
                baseline["features"][feature.name], serving[feature.name], baseline["n_rows"]
            )
            results.append({"feature": feature.name, "n_current": len(serving), **result})
    for result in results:
        result["drifted"] = result["psi"] >= PSI_DRIFT and result["p_value"] < P_VALUE_DRIFT
    return results


def serving_features(engine: Engine, start: datetime, end: datetime) -> pd.DataFrame:
    features = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]
    query = select(*(predictions.c[column_name(f.name)].label(f.name) for f in features)).where(
        predictions.c.predicted_at >= start, predictions.c.predicted_at < end
    )
    with engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(query).mappings().all(), columns=[f.name for f in features]
        )


def record_drift(
    engine: Engine, artifact: ModelArtifact, window: timedelta, min_samples: int
) -> list[dict]:
    """Compare the last `window` of serving data with the baseline and store the results."""
    end = datetime.now(UTC)
    start = end - window
    results = detect_drift(artifact.baseline, serving_features(engine, start, end), min_samples)
    if results:
        rows = [
            {
                **r,
                "model_version": artifact.version,
                "window_start": start,
                "window_end": end,
                "computed_at": end,
            }
            for r in results
        ]
        with engine.begin() as conn:
            conn.execute(insert(drift_metrics), rows)
    return results
