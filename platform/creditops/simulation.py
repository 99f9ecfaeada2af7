"""Applicants for demos: as in the dataset, noisy, or drifted (older, poorer, renting)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .features import NUMERIC_FEATURES, TARGET

MODES = ("normal", "noisy", "drifted")


def simulated_applicants(dataset: Path, mode: str, rows: int, seed: int) -> list[dict]:
    """`rows` applicants in the spec's ranges; `drifted` shifts Age, Income and Home."""
    rng = np.random.default_rng(seed)
    frame = pd.read_csv(dataset).drop(columns=TARGET)
    frame = frame.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    if mode == "noisy":
        for feature in NUMERIC_FEATURES:
            values = frame[feature.name]
            noisy = values * rng.normal(1, 0.15, len(values))
            noisy = noisy.clip(feature.minimum, feature.outlier_above or feature.maximum)
            frame[feature.name] = (
                noisy.round().astype("Int64") if feature.kind == "int" else noisy.round(1)
            )
        frame["Amount"] = frame[["Amount", "Price"]].min(axis=1)
    elif mode == "drifted":
        frame["Age"] = (frame["Age"] + 20).clip(upper=100)
        frame["Income"] = (frame["Income"] * 0.5).round(1)
        frame["Home"] = np.where(rng.random(rows) < 0.7, "rent", frame["Home"])
    elif mode != "normal":
        raise ValueError(f"mode must be one of {MODES}")
    return json.loads(frame.to_json(orient="records"))
