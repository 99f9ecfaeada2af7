"""Applicants for demos, and how their loans end: as in the dataset, noisy, or drifted.

Drifted applicants are older, poorer and more often renting, and their loans
end by another rule than the one the model learnt (most loans of 48 months or
more to salaried applicants now go bad, as after a wage freeze), so live ROC AUC
falls once their outcomes come back. The rule names no age or marital status: a
model that learns it stays fair enough for the promotion gate (`fairness`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .features import IDENTIFIER, NUMERIC_FEATURES, TARGET

MODES = ("normal", "noisy", "drifted")


def simulated_applicants(
    dataset: Path, mode: str, rows: int, seed: int
) -> tuple[list[dict], list[str]]:
    """`rows` applicants in the spec's ranges (each with an application id), and the
    status each loan will end with; `drifted` shifts Age, Income and Home, and the rule."""
    rng = np.random.default_rng(seed)
    frame = pd.read_csv(dataset).sample(rows, replace=True, random_state=seed)
    frame = frame.reset_index(drop=True)
    statuses = frame.pop(TARGET).to_numpy()
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
        new_rule = (frame["Job"] == "fixed") & (frame["Time"] >= 48)
        statuses = np.where(rng.random(rows) < 0.6, np.where(new_rule, "bad", "good"), statuses)
    elif mode != "normal":
        raise ValueError(f"mode must be one of {MODES}")
    frame.insert(
        0, IDENTIFIER, [f"sim-{mode}-{seed}-{rng.bytes(4).hex()}-{i}" for i in range(rows)]
    )
    return json.loads(frame.to_json(orient="records")), [str(s) for s in statuses]
