"""Outcomes: GET /model/performance over 1,000,000 predictions and 500,000 outcomes, and
one 10,000-row outcome file through the outcome-ingestion steps."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import text

from creditops.db import engine_for
from creditops.settings import Settings

from .api import DISTINCT_SCORE, fill_history
from .harness import Environment, median_ms, model_service, timed

OUTCOMES = 500_000
FILE_ROWS = 10_000


def fill_outcomes(env: Environment) -> None:
    """Every other prediction labelled; bad more often where the score is high."""
    with engine_for(env.database_url).begin() as conn:
        conn.execute(
            text(f"""
            INSERT INTO outcomes (application_id, status, decided_at, source)
            SELECT 'h' || i,
                CASE WHEN random() < 0.1 + 0.6 * {DISTINCT_SCORE} THEN 'bad' ELSE 'good' END,
                now(), 'file'
            FROM generate_series(2, 2 * :n, 2) AS i"""),
            {"n": OUTCOMES},
        )
        conn.execute(text("ANALYZE outcomes"))


def outcome_file(settings: Settings) -> None:
    """10,000 outcomes of applications predicted but not yet labelled (odd ids)."""
    settings.outcomes_dir.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        f"h{i},{'bad' if i % 7 == 0 else 'good'},2026-11-20T10:00:00Z\n"
        for i in range(1, 2 * FILE_ROWS, 2)
    )
    (settings.outcomes_dir / "bench-outcomes.csv").write_text(
        "application_id,status,decided_at\n" + rows
    )


def run(env: Environment) -> list[tuple[str, str]]:
    from creditops import pipeline

    engine = engine_for(env.database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE predictions, outcomes, outcome_ingestion_runs CASCADE"))
    fill_history(env)
    fill_outcomes(env)
    results = []
    with model_service(env) as base, httpx.Client(base_url=base, timeout=60) as client:
        for bucket, label in (("day", "30 days by day"), ("hour", "30 days by hour")):

            def performance(bucket=bucket) -> None:
                client.get("/model/performance", params={"bucket": bucket}).raise_for_status()

            ms = median_ms(timed(performance, 5))
            results.append((f"GET /model/performance, {label} (goal < 200 ms)", f"{ms:.0f} ms"))

    settings = Settings(
        data_root=env.data_root, database_url=env.database_url, raw_file_settle_seconds=0
    )
    outcome_file(settings)
    started = time.perf_counter()
    saved = pipeline.ingest_one_outcome_file(settings)
    seconds = time.perf_counter() - started
    assert saved is not None and saved["saved"] == FILE_ROWS, saved
    results.append(
        (f"{FILE_ROWS:,}-row outcome file: read + validate + save (goal < 2 s)", f"{seconds:.2f} s")
    )
    return results
