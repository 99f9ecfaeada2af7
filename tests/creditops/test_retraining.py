"""The model lifecycle on a real registry: the gate, triggers, one retraining at a time,
promotion and rollback, and the service swapping models under load."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from creditops.db import drift_metrics, outcomes, predictions, promotions, retrainings
from creditops.features import FEATURE_NAMES, TARGET
from creditops.lifecycle import gate, retraining
from creditops.lifecycle.registry import CHALLENGER, CHAMPION
from creditops.lifecycle.training_set import build_training_set
from creditops.predictions import PredictionRequest, score_and_store
from creditops.settings import Settings
from creditops.training import train_model

from ..conftest import DATASET, register, serving


def gate_of(challenger, champion, holdout, settings: Settings):
    return gate.evaluate(
        challenger,
        champion,
        holdout,
        holdout.iloc[0:0],
        min_auc_gain=settings.promotion_min_auc_gain,
        max_brier_increase=settings.promotion_max_brier_increase,
        recent_min_rows=settings.recent_window_min_rows,
        seed=42,
        fairness_min_ratio=settings.fairness_min_ratio,
        fairness_max_ratio_drop=settings.fairness_max_ratio_drop,
        fairness_min_group_rows=settings.fairness_min_group_rows,
    )


def test_the_gate_rejects_a_worse_challenger_and_passes_a_better_one(
    trained_model, weak_model, frozen_sets, settings
):
    _, holdout = frozen_sets
    worse = gate_of(weak_model, trained_model, holdout, settings)
    assert not worse.passed and worse.judged_on == "holdout"
    assert next(c.name for c in worse.checks if not c.passed) == "challenger_beats_champion"
    assert "challenger" in worse.reasons()[0] and "champion" in worse.reasons()[0]
    better = gate_of(trained_model, weak_model, holdout, settings)
    assert better.passed, better.reasons()
    gain = (
        better.scores["holdout"]["challenger"]["roc_auc"]
        - (better.scores["holdout"]["champion"]["roc_auc"])
    )
    assert gain >= settings.promotion_min_auc_gain


def test_a_challenger_that_ignores_a_feature_is_rejected(trained_model, frozen_sets, settings):
    train, holdout = frozen_sets
    blind = train_model(train.assign(Home="owner"), holdout, seed=42)  # Home never varies
    verdict = gate_of(blind, None, holdout, settings)
    assert not verdict.passed
    assert "features without importance: Home" in verdict.reasons()
    assert gate_of(trained_model, None, holdout, settings).passed  # every feature counts


def test_a_biased_challenger_is_rejected_with_the_numbers_and_a_fair_one_passes(
    trained_model, frozen_sets, settings
):
    train, holdout = frozen_sets
    # Taught that single applicants' loans end bad: it refuses them far more often.
    labels = train[TARGET].where(train["Marital"] != "single", "bad")
    biased = train_model(train.assign(**{TARGET: labels}), holdout, seed=42)
    verdict = gate_of(biased, trained_model, holdout, settings)
    fairness = next(c for c in verdict.checks if c.name == gate.FAIR)
    assert not fairness.passed
    report = verdict.fairness["holdout"]["challenger"]["attributes"]["marital"]
    assert report["worst_group"] == "single" and report["worst_ratio"] < 0.5
    assert f"challenger {report['worst_ratio']:.2f} (Marital status single against" in (
        fairness.detail
    )
    assert "needs >= 0.80" in fairness.detail
    fair = gate_of(trained_model, None, holdout, settings)
    assert next(c for c in fair.checks if c.name == gate.FAIR).passed
    assert fair.fairness["holdout"]["challenger"]["worst_ratio"] >= settings.fairness_min_ratio


def test_a_challenger_much_less_fair_than_the_champion_is_rejected(
    trained_model, frozen_sets, settings
):
    _, holdout = frozen_sets
    strict = settings.model_copy(update={"fairness_min_ratio": 0.0, "fairness_max_ratio_drop": 0.0})
    verdict = gate.fair(
        gate_of(trained_model, trained_model, holdout, settings), 0.0, -0.01
    )  # the same model, asked to be 0.01 fairer than itself
    assert not verdict.passed and "champion's" in verdict.detail
    assert gate_of(trained_model, trained_model, holdout, strict).checks[-1].passed


def test_a_retraining_promotes_a_better_challenger_and_records_why(
    engine, settings, registry, weak_champion
):
    row = retraining.run_retraining(settings, "manual", "test", "pytest")
    assert row["status"] == "promoted", row["evaluation"]
    assert row["champion_version"] == weak_champion.version
    assert registry.alias_version(CHAMPION) == row["challenger_version"]
    assert registry.alias_version(CHALLENGER) is None
    (version,) = [v for v in registry.versions() if v["version"] == row["challenger_version"]]
    assert version["tags"]["gate"] == "passed" and version["tags"]["reason"] == "manual"
    with engine.connect() as conn:
        promoted = conn.execute(select(promotions)).mappings().one()
    assert promoted["version"] == row["challenger_version"]
    assert promoted["previous_version"] == weak_champion.version
    assert promoted["retraining_id"] == row["id"]


def test_a_rejected_challenger_leaves_the_champion_and_says_why(
    engine, settings, registry, recorded_model
):
    row = retraining.run_retraining(settings, "manual", "test", "pytest")
    assert row["status"] == "rejected" and row["finished_at"] is not None
    assert registry.alias_version(CHAMPION) == recorded_model.version
    (version,) = [v for v in registry.versions() if v["version"] == row["challenger_version"]]
    assert version["tags"]["gate"] == "rejected"
    assert version["tags"]["gate_reasons"].startswith("ROC AUC on the holdout set")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(promotions)).scalar_one() == 0


def test_the_training_set_adds_outcomes_holds_out_the_newest_and_leaks_nothing(
    engine, recorded_model, frozen_sets, tmp_path
):
    train, holdout = frozen_sets
    labelled = pd.concat([train.head(300), holdout.head(10)], ignore_index=True)
    applicants = labelled[list(FEATURE_NAMES)].astype(object)
    applicants = applicants.where(applicants.notna(), None).to_dict("records")
    for i, applicant in enumerate(applicants):
        applicant["application_id"] = f"app-{i:04d}"
    score_and_store(engine, recorded_model, [PredictionRequest(applicants, "scheduled", "f.csv")])
    start = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(outcomes),
            [
                {
                    "application_id": a["application_id"],
                    "status": status,
                    "decided_at": start,
                    "received_at": start + timedelta(seconds=i),
                    "source": "api",
                }
                for i, (a, status) in enumerate(zip(applicants, labelled[TARGET], strict=True))
            ],
        )
    built = build_training_set(engine, DATASET, tmp_path, 42, 0.2, recent_rows=50)
    # 310 labelled: the newest 50 held out; of the older 260, none is a held-out row.
    assert (built.n_recent_rows, built.n_outcome_rows) == (50, 260)
    assert built.n_rows == len(train) + 260
    assert built.frame("recent")[TARGET].tolist() == labelled[TARGET].tolist()[-50:]
    again = build_training_set(engine, DATASET, tmp_path, 42, 0.2, recent_rows=50)
    assert again.fingerprint == built.fingerprint
    fewer = build_training_set(engine, DATASET, tmp_path, 42, 0.2, recent_rows=60)
    assert fewer.fingerprint != built.fingerprint and fewer.n_outcome_rows == 250


def drift_check(engine, at: datetime, drifted: int, version: str) -> None:
    rows = [
        {
            "computed_at": at,
            "model_version": version,
            "feature": name,
            "test": "ks",
            "statistic": 0.5,
            "p_value": 0.001,
            "psi": 0.3 if i < drifted else 0.01,
            "n_reference": 100,
            "n_current": 100,
            "window_start": at - timedelta(minutes=30),
            "window_end": at,
            "drifted": i < drifted,
        }
        for i, name in enumerate(FEATURE_NAMES)
    ]
    with engine.begin() as conn:
        conn.execute(insert(drift_metrics), rows)


def finish(engine, row_id: int, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            retrainings.update()
            .where(retrainings.c.id == row_id)
            .values(status="rejected", finished_at=at)
        )


def test_drift_on_k_features_in_m_checks_fires_once(engine, settings, recorded_model):
    now = datetime.now(UTC)
    k, m = settings.retrain_drift_features, settings.retrain_drift_checks
    for i in range(m):
        drift_check(engine, now - timedelta(minutes=10 - i), k - 1, recorded_model.version)
    assert retraining.request_if_due(settings, now) is None  # K-1 features: not enough
    for i in range(m):
        drift_check(engine, now - timedelta(minutes=5 - i), k, recorded_model.version)
    first = retraining.request_if_due(settings, now)
    assert first["reason"] == "drift" and first["requested_by"] == "trigger"
    assert retraining.request_if_due(settings, now) is None  # one is requested already
    finish(engine, first["id"], now)
    later = now + timedelta(minutes=settings.retrain_cooldown_minutes + 1)
    assert retraining.request_if_due(settings, later) is None  # its checks are used up
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(retrainings)).scalar_one() == 1


def test_new_outcomes_and_the_schedule_fire_after_the_cool_down(engine, settings):
    now = datetime.now(UTC)
    first = retraining.request_retraining(engine, "manual", "test", "pytest")
    finish(engine, first["id"], now - timedelta(minutes=1))
    enough = Settings(**{**settings.model_dump(), "retrain_new_outcomes": 3})
    with engine.begin() as conn:
        conn.execute(
            insert(outcomes),
            [
                {"application_id": f"a{i}", "status": "good", "decided_at": now, "source": "api"}
                for i in range(3)
            ],
        )
    assert retraining.request_if_due(enough, now) is None  # in the cool-down
    after = now + timedelta(minutes=settings.retrain_cooldown_minutes)
    assert retraining.request_if_due(enough, after)["reason"] == "outcomes"
    assert retraining.request_if_due(enough, after) is None
    finish(engine, first["id"] + 1, after)
    week = after + timedelta(hours=settings.retrain_every_hours)
    assert retraining.request_if_due(settings, week)["reason"] == "schedule"


def test_two_orchestrators_never_run_two_retrainings_at_once(engine, settings):
    barrier = threading.Barrier(8)

    def ask(i: int):
        barrier.wait()
        return retraining.request_retraining(engine, "manual", "race", f"person {i}")

    with ThreadPoolExecutor(8) as pool:
        requested = [r for r in pool.map(ask, range(8)) if r is not None]
    assert len(requested) == 1
    claims = threading.Barrier(2)

    def claim(orchestrator: str):
        claims.wait()
        return retraining.next_retraining(settings, orchestrator)

    with ThreadPoolExecutor(2) as pool:
        won = [c for c in pool.map(claim, ["dagster", "airflow"]) if c is not None]
    assert won == [requested[0]["id"]]
    with pytest.raises(retraining.RetrainingBusy, match="is running on"):
        retraining.run_retraining(settings, "manual", "test", "pytest")


def test_a_retraining_whose_process_died_is_failed_after_the_timeout(engine, settings):
    requested = retraining.request_retraining(engine, "manual", "test", "pytest")
    retraining.claim_retraining(engine, "dagster")
    with engine.begin() as conn:
        conn.execute(retrainings.update().values(started_at=func.now() - timedelta(hours=1)))
    assert retraining.fail_abandoned(engine, timedelta(minutes=10)) == 1
    assert (
        retraining.request_retraining(engine, "manual", "again", "pytest")["id"] > requested["id"]
    )


def test_the_service_swaps_to_a_new_champion_under_load_and_rolls_back(
    engine, settings, registry, recorded_model, weak_model, frozen_sets
):
    if weak_model.version is None:
        register(registry, weak_model, frozen_sets[0])
    fast = Settings(**{**settings.model_dump(), "model_poll_seconds": 0.1})
    applicant = json.loads(
        pd.read_csv(DATASET).drop(columns="Status").head(1).to_json(orient="records")
    )[0]
    body = {"source": "webapp", "applicants": [applicant]}
    seen, failures, stop = [], [], threading.Event()

    def client(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                response = http.post("/predict", json=body)
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    seen.append(response.json()["model_version"])

    with serving(fast) as url:
        threads = [threading.Thread(target=client, args=(url,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        retraining.promote(fast, weak_model.version, "test: forward")
        deadline = time.monotonic() + 20
        while httpx.get(f"{url}/health").json()["model_version"] != weak_model.version:
            assert time.monotonic() < deadline, "the service never swapped"
            time.sleep(0.05)
        time.sleep(0.5)
        previous = retraining.promote(fast, recorded_model.version, "test: roll back")
        while httpx.get(f"{url}/model").json()["version"] != recorded_model.version:
            assert time.monotonic() < deadline, "the service never rolled back"
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert previous == weak_model.version
    # Served in order: the champion, the promoted version, the champion again.
    changes = [v for i, v in enumerate(seen) if i == 0 or v != seen[i - 1]]
    assert set(changes) == {recorded_model.version, weak_model.version} and len(changes) >= 3
    with engine.connect() as conn:
        stored = conn.execute(
            select(predictions.c.model_version, func.count()).group_by(predictions.c.model_version)
        ).all()
        by = conn.execute(select(promotions.c.promoted_by).order_by(promotions.c.id)).scalars()
        assert list(by) == ["test: forward", "test: roll back"]
    assert sum(n for _, n in stored) == len(seen)
