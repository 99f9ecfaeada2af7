"""Monitoring: every panel and alert query over 1,000,000 predictions and 100,000 ingestions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from creditops.db import engine_for
from creditops.monitoring import ALERT_RULES, SQL_PANELS, expand_macros, run_panel

from .api import HISTORY_DAYS, fill_history
from .harness import Environment, median_ms, timed

RUNS = 100_000


def fill_ingestions(env: Environment) -> None:
    """100,000 runs over 30 days, a third with problems; drift results every 5 minutes."""
    with engine_for(env.database_url).begin() as conn:
        conn.execute(
            text(f"""
            INSERT INTO ingestion_runs (run_key, file_name, orchestrator, ingested_at, n_rows,
                n_valid_rows, n_invalid_rows, criticality, file_error, report_url)
            SELECT 'bench-' || i, 'bench-' || i || '.csv',
                CASE WHEN i % 2 = 0 THEN 'dagster' ELSE 'airflow' END,
                now() - (i * interval '{HISTORY_DAYS} days') / :n, 100,
                100 - (i % 3) * 10, (i % 3) * 10,
                (ARRAY['none', 'low', 'medium'])[i % 3 + 1], NULL, NULL
            FROM generate_series(1, :n) AS i"""),
            {"n": RUNS},
        )
        conn.execute(
            text("""
            INSERT INTO data_quality_issues (ingestion_run_id, error_type, column_name, n_rows)
            SELECT id, (ARRAY['missing_value', 'out_of_range', 'unknown_category'])[id % 3 + 1],
                'Age', n_invalid_rows
            FROM ingestion_runs WHERE n_invalid_rows > 0""")
        )
        conn.execute(
            text(f"""
            INSERT INTO drift_metrics (computed_at, model_version, feature, test, statistic,
                p_value, psi, n_reference, n_current, window_start, window_end, drifted)
            SELECT now() - i * interval '5 minutes', :version, f, 'ks', 0.1, 0.2, 0.05, 2000,
                300, now() - i * interval '5 minutes' - interval '30 minutes',
                now() - i * interval '5 minutes', false
            FROM generate_series(0, {HISTORY_DAYS * 288}) AS i,
                unnest(ARRAY['Age', 'Income', 'Home']) AS f"""),
            {"version": env.artifact.version},
        )
        conn.execute(text("ANALYZE"))


def run(env: Environment) -> list[tuple[str, str]]:
    engine = engine_for(env.database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE predictions, ingestion_runs CASCADE"))
    fill_history(env)
    fill_ingestions(env)
    results = []
    now = datetime.now(UTC)
    for label, window in (("30 min", timedelta(minutes=30)), ("24 h", timedelta(hours=24))):
        for key, panel in SQL_PANELS.items():
            ms = median_ms(timed(lambda p=panel, w=window: run_panel(engine, p, now - w, now), 5))
            results.append((f"panel {key}, last {label} (goal < 200 ms)", f"{ms:.1f} ms"))
    for rule in ALERT_RULES:
        sql, _ = expand_macros(rule.sql)

        def alert(sql=sql) -> None:
            with engine.connect() as conn:
                conn.execute(text(sql)).all()

        results.append(
            (f"alert {rule.uid} (goal < 200 ms)", f"{median_ms(timed(alert, 5)):.1f} ms")
        )
    return results
