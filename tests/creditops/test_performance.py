"""Live performance: the per-minute rollup the triggers keep, and the metrics read from it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, precision_score, recall_score, roc_auc_score
from sqlalchemy import text

from creditops.features import EXAMPLE_APPLICANT, FEATURE_NAMES
from creditops.performance import labelled_metrics, live_performance

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ROLLUP = "SELECT * FROM performance_minutes ORDER BY model_version, minute"
RECOMPUTED = """SELECT * FROM performance_by_minute(ARRAY[tstzrange('-infinity', 'infinity')])
ORDER BY model_version, minute"""


def sklearn_metrics(truth, score, predicted) -> dict[str, float]:
    return {
        "roc_auc": roc_auc_score(truth, score),
        "precision_bad": precision_score(truth, predicted),
        "recall_bad": recall_score(truth, predicted),
        "brier": brier_score_loss(truth, score),
    }


def test_grouped_metrics_equal_scikit_learn_per_group_with_ties_and_undefined_groups():
    rng = np.random.default_rng(7)
    size = 5_000
    score = rng.choice(np.linspace(0, 1, 40), size)  # many ties, within and across groups
    truth = (rng.random(size) < score).astype(float)
    predicted = (score > 0.5).astype(float)
    group = rng.integers(0, 6, size)
    group[group == 3] = 2  # group 3 is empty
    truth[group == 5] = 1  # group 5 has one class: AUC undefined
    metrics, overall = labelled_metrics(score, truth, predicted, group, 6)
    for g in (0, 1, 2, 4):
        rows = group == g
        for name, value in sklearn_metrics(truth[rows], score[rows], predicted[rows]).items():
            assert metrics[name][g] == pytest.approx(value, abs=1e-12), (name, g)
    for name, value in sklearn_metrics(truth, score, predicted).items():
        assert overall[name] == pytest.approx(value, abs=1e-12), name
    assert np.isnan(metrics["roc_auc"][3]) and np.isnan(metrics["brier"][3])
    assert np.isnan(metrics["roc_auc"][5]) and not np.isnan(metrics["recall_bad"][5])


def insert_predictions(conn, rows: list[tuple[str, datetime, float]], version: str) -> None:
    """(application id, predicted at, probability of bad) each, for the example applicant."""
    columns = ", ".join(n.lower() for n in FEATURE_NAMES)
    values = ", ".join(f":{n}" for n in FEATURE_NAMES)
    conn.execute(
        text(
            f"""INSERT INTO predictions (predicted_at, source, application_id, batch_id,
                    model_version, prediction, probability_bad, {columns})
                VALUES (:at, 'scheduled', :id, gen_random_uuid(), :version,
                        CASE WHEN :p > 0.5 THEN 'bad' ELSE 'good' END, :p, {values})"""
        ),
        [{"id": i, "at": at, "p": p, "version": version, **EXAMPLE_APPLICANT} for i, at, p in rows],
    )


def save_outcomes(conn, statuses: dict[str, str]) -> None:
    conn.execute(
        text(
            """INSERT INTO outcomes (application_id, status, decided_at, source)
               SELECT id, status, now(), 'api' FROM unnest(CAST(:ids AS text[]),
                   CAST(:statuses AS text[])) AS given(id, status)
               ON CONFLICT (application_id) DO UPDATE SET status = excluded.status"""
        ),
        {"ids": list(statuses), "statuses": list(statuses.values())},
    )


def assert_rollup_is_exact(engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text(ROLLUP)).all() == conn.execute(text(RECOMPUTED)).all()


def test_the_rollup_follows_every_kind_of_write(engine, recorded_model):
    version = recorded_model.version
    with engine.begin() as conn:
        insert_predictions(
            conn, [(f"a{i}", T0 + timedelta(seconds=20 * i), i / 10) for i in range(10)], version
        )
    assert_rollup_is_exact(engine)
    with engine.begin() as conn:
        save_outcomes(conn, {"a1": "good", "a5": "bad", "a8": "bad"})
    assert_rollup_is_exact(engine)
    with engine.begin() as conn:
        save_outcomes(conn, {"a5": "good"})  # a correction
        insert_predictions(conn, [("a8", T0 + timedelta(minutes=9), 0.3)], version)  # again
    assert_rollup_is_exact(engine)
    with engine.connect() as conn:
        labelled = conn.execute(text("SELECT sum(n_labelled) FROM performance_minutes")).scalar()
    assert labelled == 4  # a1, a5, and a8 twice
    with engine.begin() as conn:
        conn.execute(text("UPDATE predictions SET predicted_at = predicted_at - interval '1 day'"))
        conn.execute(text("DELETE FROM predictions WHERE application_id = 'a1'"))
        conn.execute(text("DELETE FROM outcomes WHERE application_id = 'a8'"))
    assert_rollup_is_exact(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE outcomes"))
    assert_rollup_is_exact(engine)


@pytest.mark.parametrize("first", ["prediction", "outcome"])
def test_a_prediction_and_its_outcome_written_at_once_are_joined(engine, recorded_model, first):
    """Each transaction alone cannot see the other's row: whichever commits second must."""
    with engine.begin() as conn:  # the outcome needs a prediction of the id to exist at all
        insert_predictions(conn, [("b1", T0, 0.9)], recorded_model.version)

    def write_prediction(conn):
        insert_predictions(conn, [("b1", T0 + timedelta(minutes=5), 0.8)], recorded_model.version)

    def write_outcome(conn):
        save_outcomes(conn, {"b1": "bad"})

    writes = {"prediction": write_prediction, "outcome": write_outcome}
    second = "outcome" if first == "prediction" else "prediction"
    holder = engine.connect()
    transaction = holder.begin()
    writes[first](holder)
    done = threading.Event()

    def other():
        with engine.begin() as conn:
            writes[second](conn)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert not done.wait(1)  # waits for the first transaction
    transaction.commit()
    holder.close()
    thread.join(10)
    assert done.is_set()
    assert_rollup_is_exact(engine)
    with engine.connect() as conn:
        labelled = conn.execute(text("SELECT sum(n_labelled) FROM performance_minutes")).scalar()
    assert labelled == 2


def test_a_window_that_starts_and_ends_inside_minutes_counts_exactly_its_rows(
    engine, recorded_model
):
    rng = np.random.default_rng(3)
    rows = [
        (f"c{i}", T0 + timedelta(seconds=int(s)), float(p))
        for i, (s, p) in enumerate(zip(rng.integers(0, 600, 400), rng.random(400), strict=True))
    ]
    statuses = {i: ("bad" if rng.random() < p else "good") for i, _, p in rows[:300]}
    with engine.begin() as conn:
        insert_predictions(conn, rows, recorded_model.version)
        save_outcomes(conn, statuses)
    start, end = T0 + timedelta(seconds=95), T0 + timedelta(seconds=487.5)
    result = live_performance(engine, start, end, "minute")
    frame = pd.DataFrame(rows, columns=["id", "at", "score"])
    frame = frame[(frame["at"] >= start) & (frame["at"] < end)]
    (total,) = result["totals"]
    assert total["n_predictions"] == len(frame)
    labelled = frame[frame["id"].isin(statuses)]
    truth = (labelled["id"].map(statuses) == "bad").astype(int)
    expected = sklearn_metrics(truth, labelled["score"], (labelled["score"] > 0.5).astype(int))
    assert total["n_labelled"] == len(labelled)
    for name, value in expected.items():
        assert total[name] == pytest.approx(value, abs=1e-12), name
    assert result["buckets"][0]["bucket"] == T0 + timedelta(minutes=1)  # the partial minute
    assert sum(b["n_predictions"] for b in result["buckets"]) == len(frame)
