"""POST /outcomes, GET /model/performance and GET /model/fairness, over HTTP, real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, precision_score, recall_score, roc_auc_score
from sqlalchemy import func, select, text

from creditops.db import outcomes, predictions
from creditops.lifecycle.fairness import fairness_report, scored_frame

from ..conftest import DATASET
from .test_predictions import dataset_applicants


def outcome(application_id: str, status: str = "bad", decided_at: str = "2026-11-20T09:30:00Z"):
    return {"application_id": application_id, "status": status, "decided_at": decided_at}


def predict_ids(client, ids: list[str]) -> None:
    applicants = dataset_applicants(len(ids))
    body = {
        "source": "scheduled",
        "applicants": [{"application_id": i, **a} for i, a in zip(ids, applicants, strict=True)],
    }
    assert client.post("/predict", json=body).status_code == 200


def outcome_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outcomes)).scalar_one()


def test_outcomes_are_saved_a_repeat_changes_nothing_a_change_corrects(client, engine):
    predict_ids(client, ["a1", "a2"])
    body = {"outcomes": [outcome("a1"), outcome("a2", "good")]}
    assert client.post("/outcomes", json=body).json() == {
        "saved": 2,
        "corrected": 0,
        "unchanged": 0,
    }
    assert client.post("/outcomes", json=body).json() == {
        "saved": 0,
        "corrected": 0,
        "unchanged": 2,
    }
    changed = {"outcomes": [outcome("a1", "good", "2026-11-22T00:00:00Z")]}
    assert client.post("/outcomes", json=changed).json() == {
        "saved": 0,
        "corrected": 1,
        "unchanged": 0,
    }
    with engine.connect() as conn:
        row = (
            conn.execute(select(outcomes).where(outcomes.c.application_id == "a1")).mappings().one()
        )
    assert (row["status"], row["corrections"], row["source"]) == ("good", 1, "api")


@pytest.mark.parametrize(
    ("bad_row", "field", "words"),
    [
        (outcome("a2", "defaulted"), "status", "'good' or 'bad'"),
        (outcome("a2", decided_at="1700000000"), "decided_at", "ISO 8601"),
        (outcome("a b"), "application_id", "pattern"),
        (outcome("a1", "good"), "application_id", "already in row 0"),
        (outcome("never-scored"), "application_id", "no prediction has the application id"),
    ],
)
def test_a_bad_outcome_is_named_by_row_and_field_and_nothing_is_stored(
    client, engine, bad_row, field, words
):
    predict_ids(client, ["a1", "a2"])
    response = client.post("/outcomes", json={"outcomes": [outcome("a1"), bad_row]})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["row"], error["field"]) == (1, field)
    assert words in error["message"] and "row 1" in response.json()["detail"]
    assert outcome_count(engine) == 0


def joined_rows(engine) -> pd.DataFrame:
    query = text(
        """SELECT p.model_version, p.predicted_at, p.prediction, p.probability_bad, o.status,
                  p.age, p.marital
           FROM predictions p JOIN outcomes o USING (application_id)"""
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).mappings().all())


def sklearn_metrics(rows: pd.DataFrame) -> dict[str, float]:
    truth = (rows["status"] == "bad").astype(int)
    predicted = (rows["prediction"] == "bad").astype(int)
    return {
        "roc_auc": roc_auc_score(truth, rows["probability_bad"]),
        "precision_bad": precision_score(truth, predicted),
        "recall_bad": recall_score(truth, predicted),
        "brier": brier_score_loss(truth, rows["probability_bad"]),
    }


def test_live_metrics_equal_scikit_learn_on_the_same_joined_rows(client, engine):
    labels = pd.read_csv(DATASET)["Status"]
    ids = [f"x{i:04d}" for i in range(300)]
    predict_ids(client, ids)
    predict_ids(client, ids[:40])  # the same applicants again: tied scores, one outcome each
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with engine.begin() as conn:  # half of them were scored yesterday
        conn.execute(
            predictions.update()
            .where(predictions.c.application_id < "x0150")
            .values(predicted_at=today - timedelta(days=1))
        )
    labelled = {"outcomes": [outcome(i, labels[n]) for n, i in enumerate(ids[:250])]}
    assert client.post("/outcomes", json=labelled).status_code == 200

    response = client.get(
        "/model/performance",
        params={"start": (today - timedelta(days=2)).isoformat(), "bucket": "day"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    rows = joined_rows(engine)
    (total,) = body["totals"]
    assert (total["n_predictions"], total["n_labelled"]) == (340, len(rows)) == (340, 290)
    assert total["awaiting_share"] == pytest.approx(50 / 340)
    approval = 1 - np.mean(
        [p == "bad" for p in pd.read_sql(select(predictions.c.prediction), engine)["prediction"]]
    )
    assert total["approval_rate"] == pytest.approx(approval)
    for name, value in sklearn_metrics(rows).items():
        assert total[name] == pytest.approx(value, abs=1e-12), name
    assert len(body["buckets"]) == 2
    for bucket in body["buckets"]:
        day = datetime.fromisoformat(bucket["bucket"])
        same_day = rows[(rows["predicted_at"] >= day) & (rows["predicted_at"] < day + timedelta(1))]
        assert bucket["n_labelled"] == len(same_day)
        for name, value in sklearn_metrics(same_day).items():
            assert bucket[name] == pytest.approx(value, abs=1e-12), name
    assert body["held_out_roc_auc"][total["model_version"]] > 0.8


def test_performance_before_any_outcome_is_all_waiting(client, engine):
    predict_ids(client, ["a1", "a2", "a3"])
    (total,) = client.get("/model/performance").json()["totals"]
    assert total["n_labelled"] == 0 and total["awaiting_share"] == 1.0
    assert total["roc_auc"] is None and total["brier"] is None
    client.post("/outcomes", json={"outcomes": [outcome("a1"), outcome("a2")]})
    (total,) = client.get("/model/performance").json()["totals"]
    assert total["roc_auc"] is None  # one class only: AUC is undefined, not 0.5
    assert total["n_labelled"] == 2 and total["awaiting_share"] == pytest.approx(1 / 3)


def test_fairness_by_group_from_live_outcomes_and_the_held_out_report(
    client, engine, registry, recorded_model, frozen_sets, settings
):
    labels = pd.read_csv(DATASET)["Status"]
    ids = [f"f{i:04d}" for i in range(400)]
    predict_ids(client, ids)
    labelled = {"outcomes": [outcome(i, labels[n]) for n, i in enumerate(ids[:350])]}
    assert client.post("/outcomes", json=labelled).status_code == 200
    _, holdout = frozen_sets
    held_out = fairness_report(scored_frame(recorded_model, holdout), 100)
    registry.log_fairness(recorded_model.version, held_out)

    response = client.get("/model/fairness")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == recorded_model.version and body["min_ratio"] == 0.8
    assert body["held_out"]["worst_ratio"] == pytest.approx(held_out["worst_ratio"])
    live = body["live"]
    assert live["rows"] == 350
    rows = joined_rows(engine).assign(
        actual_bad=lambda f: f["status"] == "bad", approved=lambda f: f["prediction"] == "good"
    )
    marital = rows["marital"].fillna("unknown")
    groups = {g["group"]: g for g in live["attributes"]["marital"]["groups"]}
    assert set(groups) == set(marital)
    best = max(
        rows[marital == g]["approved"].mean()
        for g in groups
        if (marital == g).sum() >= settings.fairness_min_group_rows
    )
    for name, group in groups.items():
        mine = rows[marital == name]
        assert group["rows"] == len(mine)
        assert group["judged"] == (len(mine) >= settings.fairness_min_group_rows)
        assert group["approval_rate"] == pytest.approx(mine["approved"].mean())
        assert group["approval_ratio"] == pytest.approx(mine["approved"].mean() / best)
        good = mine[~mine["actual_bad"]]
        if len(good):
            assert group["false_positive_rate"] == pytest.approx((~good["approved"]).mean())
    bands = {g["group"] for g in live["attributes"]["age_band"]["groups"]}
    assert bands <= {"18-24", "25-34", "35-44", "45-54", "55+"}
    assert client.get("/model/fairness", params={"model_version": "999"}).json()["live"] is None


@pytest.mark.parametrize("route", ["/model/performance", "/model/fairness"])
@pytest.mark.parametrize("version", ["1\x00", "\u00cb"])  # a NUL byte; a letter not ASCII
def test_a_model_version_that_no_registry_makes_is_named_not_sent_to_the_database(
    client, route, version
):
    response = client.get(route, params={"model_version": version})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "model_version"
