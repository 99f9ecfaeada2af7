"""The model lifecycle: a retraining on 4,454 + 100,000 labelled rows, and a promotion
under 32 clients of single-row /predict."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import httpx
import pandas as pd
from sqlalchemy import func, select, text

from creditops.db import engine_for, predictions
from creditops.lifecycle import retraining
from creditops.lifecycle.registry import CHAMPION, Registry
from creditops.outcomes import upsert_outcomes
from creditops.predictions import PredictionRequest, score_and_store
from creditops.schemas import Outcome
from creditops.simulation import simulated_applicants

from .harness import DATASET, Environment, load, model_service, percentile

OUTCOME_ROWS = 100_000
CLIENTS = 32
LOAD_SECONDS = 12.0


def fill_labelled(env: Environment) -> None:
    """100,000 noisy applicants predicted and labelled (their features differ from the
    dataset's, so none is left out as a copy of a held-out row)."""
    engine = engine_for(env.database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE predictions, outcomes"))
    for chunk in range(OUTCOME_ROWS // 20_000):
        applicants, statuses = simulated_applicants(DATASET, "noisy", 20_000, seed=chunk)
        score_and_store(engine, env.artifact, [PredictionRequest(applicants, "scheduled")])
        now = datetime.now(UTC)
        labels = [
            Outcome(application_id=a["application_id"], status=s, decided_at=now)
            for a, s in zip(applicants, statuses, strict=True)
        ]
        with engine.begin() as conn:  # one statement, as the outcome job and the API write
            upsert_outcomes(conn, labels, "api")


def retraining_seconds(env: Environment) -> list[tuple[str, str]]:
    settings = env.settings.model_copy(update={"recent_window_rows": 2_000})
    engine = engine_for(env.database_url)
    requested = retraining.request_retraining(engine, "manual", "bench", "bench")
    retraining.claim_retraining(engine, "cli")
    times = []
    started = time.perf_counter()
    for step in (
        retraining.build_training_set_step,
        retraining.train_challenger_step,
        retraining.evaluate_challenger_step,
        retraining.promote_step,
    ):
        begun = time.perf_counter()
        step(settings, requested["id"])
        times.append((step.__name__.removesuffix("_step"), time.perf_counter() - begun))
    total = time.perf_counter() - started
    row = retraining.retrainings_history(engine, 1)[0]
    rows = row["training_set"]["n_rows"]
    return [
        (f"retraining on {rows:,} rows (+2,000 recent held out), all four steps", f"{total:.1f} s"),
        *((f"  {name}", f"{seconds:.1f} s") for name, seconds in times),
        ("  verdict", row["status"]),
    ]


def promotion_under_load(env: Environment) -> list[tuple[str, str]]:
    registry = Registry(env.settings.tracking_uri)
    applicant = json.loads(
        pd.read_csv(DATASET).head(1).drop(columns="Status").to_json(orient="records")
    )
    body = json.dumps({"source": "webapp", "applicants": applicant}).encode()
    champion = registry.alias_version(CHAMPION)
    other = next(v["version"] for v in registry.versions() if v["version"] != champion)
    latencies: list[float] = []
    sent_at: list[float] = []
    failures: list[BaseException] = []
    with model_service(env, CREDITOPS_MODEL_POLL_SECONDS="1") as base:

        def clients() -> None:
            try:
                latencies.extend(load(base, "/predict", body, CLIENTS, LOAD_SECONDS, sent_at))
            except BaseException as exc:  # a non-200 answer or a dropped connection
                failures.append(exc)

        runner = threading.Thread(target=clients)
        runner.start()
        time.sleep(LOAD_SECONDS / 3)
        promoted_at = time.perf_counter()
        retraining.promote(env.settings, other, "bench")
        while httpx.get(f"{base}/health", timeout=5).json()["model_version"] != other:
            time.sleep(0.01)
        swapped_at = time.perf_counter()
        runner.join()
    during = [
        latency
        for latency, sent in zip(latencies, sent_at, strict=True)
        if promoted_at <= sent <= swapped_at + 1.0
    ]
    with engine_for(env.database_url).connect() as conn:
        served = dict(
            conn.execute(
                select(predictions.c.model_version, func.count())
                .where(predictions.c.source == "webapp")
                .group_by(predictions.c.model_version)
            ).all()
        )
    return [
        (f"promotion under {CLIENTS} clients of single-row /predict", f"{len(latencies):,} req"),
        ("  failed requests", str(len(failures))),
        ("  from promotion to the new version served", f"{swapped_at - promoted_at:.2f} s"),
        (
            "  p99 over the swap (promotion to 1 s after)",
            f"{percentile(during, 0.99) * 1000:.1f} ms",
        ),
        ("  max over the swap", f"{max(during) * 1000:.1f} ms"),
        ("  p99 over the whole run", f"{percentile(latencies, 0.99) * 1000:.1f} ms"),
        ("  predictions stored per version", ", ".join(f"{v}: {n:,}" for v, n in served.items())),
    ]


def run(env: Environment) -> list[tuple[str, str]]:
    fill_labelled(env)
    return [*retraining_seconds(env), *promotion_under_load(env)]
