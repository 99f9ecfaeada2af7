"""Drift detection: a shifted batch drifts, a clean one does not."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from creditops.db import drift_metrics
from creditops.drift import detect_drift, record_drift
from creditops.predictions import PredictionRequest, score_and_store

from ..conftest import DATASET


@pytest.fixture(scope="module")
def serving() -> pd.DataFrame:
    return pd.read_csv(DATASET).drop(columns="Status").sample(600, random_state=11)


def drifted(results) -> set[str]:
    return {r["feature"] for r in results if r["drifted"]}


def test_a_clean_batch_does_not_drift(trained_model, serving):
    results = detect_drift(trained_model.baseline, serving, min_samples=100)
    assert len(results) == 13 and drifted(results) == set()


def test_older_applicants_drift_on_age_only(trained_model, serving):
    older = serving.assign(Age=(serving["Age"] + 20).clip(upper=100))
    assert drifted(detect_drift(trained_model.baseline, older, min_samples=100)) == {"Age"}


def test_a_shifted_category_drifts(trained_model, serving):
    renters = serving.assign(Home="rent")
    assert "Home" in drifted(detect_drift(trained_model.baseline, renters, min_samples=100))


def test_too_few_values_give_no_verdict(trained_model, serving):
    assert detect_drift(trained_model.baseline, serving.head(20), min_samples=100) == []


def test_drift_of_stored_predictions_is_recorded(engine, recorded_model, serving):
    older = serving.assign(Age=(serving["Age"] + 25).clip(upper=100))
    rows = older.astype(object).where(older.notna(), None).to_dict("records")
    score_and_store(engine, recorded_model, [PredictionRequest(rows, "scheduled", "old.csv")])
    record_drift(engine, recorded_model, timedelta(minutes=10), min_samples=100)
    with engine.connect() as conn:
        stored = conn.execute(select(drift_metrics)).mappings().all()
    assert {r["feature"] for r in stored if r["drifted"]} == {"Age"}
    assert all(r["model_version"] == recorded_model.version for r in stored)


@pytest.mark.parametrize(("mode", "drifts"), [("normal", False), ("drifted", True)])
def test_simulated_batches_drift_only_when_asked(trained_model, mode, drifts):
    from pydantic import TypeAdapter

    from creditops.schemas import Applicant
    from creditops.simulation import simulated_applicants

    applicants, _ = simulated_applicants(DATASET, mode, 400, seed=1)
    for applicant in applicants:
        TypeAdapter(Applicant).validate_python(applicant)  # what the model service accepts
    results = detect_drift(trained_model.baseline, pd.DataFrame(applicants), min_samples=100)
    assert bool(drifted(results)) == drifts
    if drifts:
        assert {"Age", "Home"} <= drifted(results)


def test_noisy_batches_are_valid_applicants():
    from pydantic import TypeAdapter

    from creditops.schemas import Applicant
    from creditops.simulation import simulated_applicants

    applicants, _ = simulated_applicants(DATASET, "noisy", 300, seed=2)
    for applicant in applicants:
        TypeAdapter(Applicant).validate_python(applicant)


def test_drifted_outcomes_follow_another_rule_so_live_roc_auc_falls(trained_model):
    from sklearn.metrics import roc_auc_score

    from creditops.simulation import simulated_applicants

    auc = {}
    for mode in ("normal", "drifted"):
        applicants, statuses = simulated_applicants(DATASET, mode, 2000, seed=4)
        _, scores = trained_model.score(pd.DataFrame(applicants))
        auc[mode] = roc_auc_score([s == "bad" for s in statuses], scores)
    assert auc["normal"] > 0.8 and auc["drifted"] < auc["normal"] - 0.15
