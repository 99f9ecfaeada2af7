"""Reason codes: the features that pushed an applicant's score towards `bad` the most.

shap's TreeExplainer explains the trees on `encode`'s matrix, one contribution per
feature in log-odds of `bad`; with the base value they add up to the model's raw
score (shap's own additivity). It runs with `approximate=True`, shap's path
attribution (Saabas): on 10,000 rows it takes 42 ms against 1.13 s for exact
TreeSHAP, whose C code holds the GIL, so threads do not help; exact values would
make a batch of 10,000 five times slower than scoring and storing it (measured in
docs/benchmarks.md). Both are additive; the top reason is the same for 79% of rows.

A reason is stored with its prediction as computed by the version that scored it,
with its text: "Income 80 is low: 92% of applicants have more", the percentage from
the version's training baseline.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .features import FEATURES, POSITIVE_CLASS, CategoricalFeature, Feature

APPROXIMATE = True


def _ranks(sample: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shares of the training sample below and above each value."""
    below = np.searchsorted(sample, values, side="left") / len(sample)
    above = 1 - np.searchsorted(sample, values, side="right") / len(sample)
    return below, above


def _words(feature: Feature, value: Any, baseline: dict[str, Any], below: float, above: float):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{feature.name} is not known"
    if isinstance(feature, CategoricalFeature):
        share = baseline["shares"].get(str(value), 0.0)
        return f"{feature.name} is {value} (like {share:.0%} of applicants)"
    shown = f"{feature.name} {value:,.{feature.decimals}f}"
    if feature.unit in ("years", "months"):
        shown += f" {feature.unit}"
    if above >= below:
        return f"{shown} is low: {above:.0%} of applicants have more"
    return f"{shown} is high: {below:.0%} of applicants have less"


def reason_text(feature: Feature, value: Any, baseline: dict[str, Any]) -> str:
    """The reason in words, against the training data the version learnt from."""
    below, above = (0.0, 0.0)
    if "sample" in baseline and value is not None:
        below, above = _ranks(np.asarray(baseline["sample"]), np.asarray([value], dtype=float))
        below, above = float(below[0]), float(above[0])
    return _words(feature, value, baseline, below, above)


class Explainer:
    """Reasons for one model version: built once per version, used for every batch."""

    def __init__(self, trees: Any, baseline: dict[str, Any]) -> None:
        import shap  # a second to import: only where models are explained

        self._tree = shap.TreeExplainer(trees)
        # The trees' raw score is the log-odds of classes_[1]; reasons speak of `bad`.
        self._sign = 1.0 if trees.classes_[1] == POSITIVE_CLASS else -1.0
        self.base_value = self._sign * float(np.ravel(self._tree.expected_value)[0])
        self._baseline = {  # numeric samples as arrays, searched once per reason
            name: {**stats, "sample": np.asarray(stats["sample"])} if "sample" in stats else stats
            for name, stats in baseline["features"].items()
        }

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Rows x features, in log-odds of `bad`; each row plus `base_value` is its raw score."""
        return self._sign * self._tree.shap_values(matrix, approximate=APPROXIMATE)

    def reasons(
        self, matrix: np.ndarray, applicants: list[dict[str, Any]], top: int
    ) -> list[list[dict[str, Any]]]:
        """Per applicant, up to `top` features whose contribution towards `bad` is positive,
        largest first: feature, value, contribution, text."""
        contributions = self.contributions(matrix)
        strongest = np.argsort(-contributions, axis=1)[:, :top]
        no_rank = (np.zeros(len(matrix)), np.zeros(len(matrix)))
        ranks = [  # numeric columns of `encode`'s matrix are the values themselves
            no_rank
            if isinstance(feature, CategoricalFeature)
            else _ranks(self._baseline[feature.name]["sample"], matrix[:, index])
            for index, feature in enumerate(FEATURES)
        ]
        explained = []
        for row, (applicant, order) in enumerate(zip(applicants, strongest, strict=True)):
            reasons = []
            for index in order:
                contribution = contributions[row, index]
                if contribution <= 0:
                    break
                feature = FEATURES[index]
                value = applicant[feature.name]
                below, above = ranks[index]
                text = _words(feature, value, self._baseline[feature.name], below[row], above[row])
                reasons.append(
                    {
                        "feature": feature.name,
                        "value": value,
                        "contribution": round(float(contribution), 4),
                        "text": text,
                    }
                )
            explained.append(reasons)
        return explained
