"""Reason codes: shap's additivity on the real model, the reasons' order and words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditops.explanations import reason_text
from creditops.features import FEATURE_NAMES, FEATURES
from creditops.model import encode

from ..conftest import DATASET

FEATURE = {f.name: f for f in FEATURES}


def applicants(n: int) -> list[dict]:
    frame = pd.read_csv(DATASET).drop(columns="Status").sample(n, random_state=5)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_contributions_and_the_base_value_add_up_to_the_models_raw_score(trained_model):
    rows = applicants(1000)  # the dataset's missing values included
    assert any(r["Income"] is None for r in rows)
    matrix = encode({n: [r[n] for r in rows] for n in FEATURE_NAMES})
    contributions = trained_model.explainer.contributions(matrix)
    _, probability_bad = trained_model.score(pd.DataFrame(rows))
    log_odds_bad = np.log(probability_bad / (1 - probability_bad))
    assert contributions.shape == (1000, len(FEATURES))
    np.testing.assert_allclose(
        contributions.sum(axis=1) + trained_model.explainer.base_value, log_odds_bad, atol=1e-9
    )


def test_reasons_are_the_strongest_pushes_towards_bad_in_order(trained_model):
    rows = applicants(300)
    classes, probability_bad, reasons = trained_model.score_and_explain(rows, 3)
    assert len(reasons) == 300
    assert all(0 < len(r) <= 3 for r, c in zip(reasons, classes, strict=True) if c == "bad")
    for row, explained in zip(rows, reasons, strict=True):
        contributions = [r["contribution"] for r in explained]
        assert contributions == sorted(contributions, reverse=True)
        assert all(c > 0 for c in contributions)
        for reason in explained:
            assert reason["value"] == row[reason["feature"]]
            assert reason["text"].startswith(reason["feature"])
    # The riskiest applicants' first reasons are the features the model leans on.
    riskiest = np.argsort(-probability_bad)[:30]
    first = {reasons[i][0]["feature"] for i in riskiest}
    assert first & {"Income", "Records", "Job", "Seniority", "Amount", "Assets"}


def test_the_words_place_a_value_among_the_training_applicants(trained_model):
    baseline = trained_model.baseline["features"]
    low = reason_text(FEATURE["Income"], 20.0, baseline["Income"])
    high = reason_text(FEATURE["Debt"], 50_000.0, baseline["Debt"])
    assert low.startswith("Income 20 is low: ") and low.endswith("% of applicants have more")
    assert high.startswith("Debt 50,000 is high: ") and "have less" in high
    assert reason_text(FEATURE["Age"], 19, baseline["Age"]).startswith("Age 19 years is low")
    assert reason_text(FEATURE["Income"], None, baseline["Income"]) == "Income is not known"
    records = reason_text(FEATURE["Records"], "yes", baseline["Records"])
    assert records.startswith("Records is yes, as for ") and records.endswith("% of applicants")
    assert reason_text(FEATURE["Seniority"], 1, baseline["Seniority"]).startswith(
        "Seniority 1 year is low"
    )
