"""Model service: batch scoring vs its floor and vs ORM row by row, concurrency, past reads."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session, registry

from creditops.db import engine_for, predictions
from creditops.features import FEATURE_NAMES
from creditops.model import encode
from creditops.predictions import COPY_PREDICTIONS

from .harness import DATASET, Environment, load, median_ms, model_service, percentile, timed

BATCH_ROWS = 10_000
JSON = {"content-type": "application/json"}
HISTORY_ROWS = 1_000_000
HISTORY_DAYS = 30


def applicants(n: int) -> list[dict]:
    frame = pd.read_csv(DATASET).drop(columns="Status").sample(n, replace=True, random_state=1)
    return json.loads(frame.to_json(orient="records"))  # NaN -> null, ints stay ints


def _truncate(env: Environment) -> None:
    with engine_for(env.database_url).begin() as conn:
        conn.execute(text("TRUNCATE predictions"))


def floor_ms(env: Environment, batch: list[dict], explained: bool = False) -> float:
    """model.predict_proba on the rows plus a COPY of them: the least any service must do;
    `explained`, with shap's contributions too (what reasons need before any wording)."""
    engine, artifact = engine_for(env.database_url), env.artifact
    columns = {name: [a[name] for a in batch] for name in FEATURE_NAMES}
    now, batch_id = datetime.now(UTC), uuid.uuid4()
    ids = [f"floor-{i}" for i in range(len(batch))]

    def predict_and_copy() -> None:
        matrix = encode(columns)
        probability_bad = artifact.pipeline[-1].predict_proba(matrix)[:, 1]
        if explained:
            artifact.explainer.contributions(matrix)
        raw = engine.raw_connection()
        try:
            with (
                raw.cursor() as cursor,
                cursor.copy(COPY_PREDICTIONS) as copy,
            ):
                for applicant, application_id, p in zip(
                    batch, ids, probability_bad.tolist(), strict=True
                ):
                    label = "bad" if p >= 0.5 else "good"
                    copy.write_row(
                        (
                            now,
                            "scheduled",
                            None,
                            application_id,
                            batch_id,
                            artifact.version,
                            label,
                            p,
                            *(applicant[n] for n in FEATURE_NAMES),
                            None,  # reasons
                        )
                    )
            raw.commit()
        finally:
            raw.close()

    return median_ms(timed(predict_and_copy, repeat=5))


def orm_row_by_row_ms(env: Environment, batch: list[dict]) -> float:
    """What most implementations do: one ORM object, one INSERT and one commit per prediction."""

    class StoredPrediction:
        pass

    mapper_registry = registry()
    mapper_registry.map_imperatively(StoredPrediction, predictions)
    engine, artifact = engine_for(env.database_url), env.artifact
    try:

        def row_by_row() -> None:
            with Session(engine) as session:
                for applicant in batch:
                    label, p = artifact.score({n: [applicant[n]] for n in FEATURE_NAMES})
                    row = StoredPrediction()
                    values = {
                        "source": "scheduled",
                        "batch_id": uuid.uuid4(),
                        "model_version": artifact.version,
                        "prediction": label[0],
                        "probability_bad": float(p[0]),
                        **{n.lower(): applicant[n] for n in FEATURE_NAMES},
                    }
                    for key, value in values.items():
                        setattr(row, key, value)
                    session.add(row)
                    session.commit()

        return median_ms(timed(row_by_row, repeat=1))
    finally:
        mapper_registry.dispose()


# A different probability for each of the million rows, as a real model's would be.
DISTINCT_SCORE = "(i::bigint * 7919 % 1000003) / 1000003.0"


def fill_history(env: Environment) -> None:
    """1,000,000 predictions spread over 30 days, both sources, written server-side."""
    features = ", ".join(n.lower() for n in FEATURE_NAMES)
    with engine_for(env.database_url).begin() as conn:
        conn.execute(
            text(
                f"""
                INSERT INTO predictions (predicted_at, source, source_file, application_id,
                    batch_id, model_version, prediction, probability_bad, {features})
                SELECT now() - (i * interval '{HISTORY_DAYS} days') / :n,
                    CASE WHEN i % 3 = 0 THEN 'webapp' ELSE 'scheduled' END,
                    NULL, 'h' || i, gen_random_uuid(), :version,
                    CASE WHEN i % 4 = 0 THEN 'bad' ELSE 'good' END, {DISTINCT_SCORE},
                    i % 30, 'rent', 48, 18 + i % 60, 'married', 'no', 'fixed', 60,
                    150.0, 3000.0, 0.0, 1000, 1500
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": HISTORY_ROWS, "version": env.artifact.version},
        )
        conn.execute(text("ANALYZE predictions"))


def run(env: Environment) -> list[tuple[str, str]]:
    results: list[tuple[str, str]] = []
    batch = applicants(BATCH_ROWS)
    # Encoded once: the client's JSON encoding is not the service's time.
    body = json.dumps({"source": "scheduled", "source_file": "bench.csv", "applicants": batch})
    single = json.dumps({"source": "webapp", "applicants": batch[:1]}).encode()

    with model_service(env) as base, httpx.Client(base_url=base, timeout=60) as client:

        def post_batch() -> None:
            response = client.post("/predict", content=body, headers=JSON)
            response.raise_for_status()

        service = median_ms(timed(post_batch, repeat=5))
        floor = floor_ms(env, batch)
        explained = floor_ms(env, batch, explained=True)
        results += [
            (
                f"POST /predict, {BATCH_ROWS:,} rows, reasons included (goal < 239 ms)",
                f"{service:.0f} ms",
            ),
            ("floor: predict_proba + COPY of the same rows", f"{floor:.0f} ms"),
            ("ratio to floor (goal <= 1.5x)", f"{service / floor:.2f}x"),
            ("floor with shap's contributions", f"{explained:.0f} ms"),
            ("ratio to the floor with contributions", f"{service / explained:.2f}x"),
        ]
        _truncate(env)
        orm = orm_row_by_row_ms(env, batch)
        results += [
            (f"ORM row by row, {BATCH_ROWS:,} rows", f"{orm:.0f} ms"),
            ("ours faster than ORM row by row (goal >= 10x)", f"{orm / service:.1f}x"),
        ]
        _truncate(env)

        latencies = load(base, "/predict", single, clients=32, seconds=10)
        results += [
            ("single-row POST /predict, 32 clients, 10 s", f"{len(latencies) / 10:.0f} req/s"),
            ("  latency p50", f"{percentile(latencies, 0.50) * 1000:.1f} ms"),
            ("  latency p99 (goal < 50 ms)", f"{percentile(latencies, 0.99) * 1000:.1f} ms"),
        ]

        _truncate(env)
        fill_history(env)
        end = datetime.now(UTC) - timedelta(days=3)
        window = {
            "start": (end - timedelta(days=1)).isoformat(),
            "end": end.isoformat(),
            "source": "scheduled",
            "limit": 100,
        }
        first = median_ms(timed(lambda: client.get("/past-predictions", params=window), 30))
        cursor = None
        for _ in range(50):
            cursor = client.get(
                "/past-predictions", params={**window, **({"cursor": cursor} if cursor else {})}
            ).json()["next_cursor"]
        deep = {**window, "cursor": cursor}
        deep_ms = median_ms(timed(lambda: client.get("/past-predictions", params=deep), 30))
        results += [
            (
                f"GET /past-predictions, 1 day + source over {HISTORY_ROWS:,} rows, page 1",
                f"{first:.1f} ms",
            ),
            ("  page 51 (keyset cursor) (goal < 100 ms)", f"{deep_ms:.1f} ms"),
        ]
    return results
