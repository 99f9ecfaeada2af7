"""Reason codes: the features that pushed an applicant's score towards `bad` the most.

shap's TreeExplainer explains the trees on `encode`'s matrix, one contribution per
feature in log-odds of `bad`; with the base value they add up to the model's raw
score (shap's own additivity). It runs with `approximate=True`, shap's path
attribution (Saabas): on 10,000 rows it takes 24 ms against 1.13 s for exact
TreeSHAP, whose C code holds the GIL, so threads do not help; exact values would
make a batch of 10,000 five times slower than scoring and storing it (measured in
docs/benchmarks.md). Both are additive; the top reason is the same for 79% of rows.

A reason is stored with its prediction as computed by the version that scored it,
with its text: "Income 80 is low: 92% of applicants have more", the percentage from
the version's training baseline.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from .features import FEATURES, POSITIVE_CLASS, CategoricalFeature, Feature

APPROXIMATE = True


def reason_text(feature: Feature, value: Any, baseline: dict[str, Any]) -> str:
    """The reason in words, against the training data the version learnt from."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{feature.name} is not known"
    if isinstance(feature, CategoricalFeature):
        share = baseline["shares"].get(str(value), 0.0)
        return f"{feature.name} is {value}, as for {share:.0%} of applicants"
    sample = baseline["sample"]  # sorted
    below = bisect.bisect_left(sample, value) / len(sample)
    above = 1 - bisect.bisect_right(sample, value) / len(sample)
    shown = f"{feature.name} {value:,.{feature.decimals}f}"
    if feature.unit in ("years", "months"):
        shown += f" {feature.unit[:-1] if value == 1 else feature.unit}"
    if above >= below:
        return f"{shown} is low: {above:.0%} of applicants have more"
    return f"{shown} is high: {below:.0%} of applicants have less"


class Explainer:
    """Reasons for one model version: built once per version, used for every batch."""

    CACHE_SIZE = 100_000  # described (feature, value) pairs; most values come back often

    def __init__(self, trees: Any, baseline: dict[str, Any]) -> None:
        import shap  # a second to import: only where models are explained

        self._tree = shap.TreeExplainer(trees)
        # The trees' raw score is the log-odds of classes_[1]; reasons speak of `bad`.
        self._sign = 1.0 if trees.classes_[1] == POSITIVE_CLASS else -1.0
        self.base_value = self._sign * float(np.ravel(self._tree.expected_value)[0])
        self._baseline = baseline["features"]
        self._described_cache: dict[tuple[int, Any], dict[str, Any]] = {}

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x features, in log-odds of `bad`; each row plus `base_value` is its raw score."""
        # Additivity is a test of ours; shap's own check would score every row again.
        values = self._tree.shap_values(matrix, approximate=APPROXIMATE, check_additivity=False)
        return self._sign * values

    def reasons(
        self, matrix: np.ndarray, applicants: list[dict[str, Any]], top: int
    ) -> list[list[dict[str, Any]]]:
        """Per applicant, up to `top` features whose contribution towards `bad` is positive,
        largest first: feature, value, contribution, text."""
        contributions = self.contributions(matrix)
        strongest = np.argsort(-contributions, axis=1)[:, :top]
        rounded = np.round(np.take_along_axis(contributions, strongest, axis=1), 4)
        return [
            [
                {**self._described(index, applicant[FEATURES[index].name]), "contribution": c}
                for index, c in zip(indices, row, strict=True)
                if c > 0
            ]
            for applicant, indices, row in zip(
                applicants, strongest.tolist(), rounded.tolist(), strict=True
            )
        ]

    def _described(self, index: int, value: Any) -> dict[str, Any]:
        """Feature, value and words, the same for every applicant with this value: cached."""
        key = (index, value)
        described = self._described_cache.get(key)
        if described is None:
            if len(self._described_cache) >= self.CACHE_SIZE:
                self._described_cache.clear()
            feature = FEATURES[index]
            text = reason_text(feature, value, self._baseline[feature.name])
            described = {"feature": feature.name, "value": value, "text": text}
            self._described_cache[key] = described
        return described
