"""The whole local stack, as `make run` starts it (`creditops run`), end to end.

From an empty data root with the schedules sped up by configuration and both
orchestrators on: every service answers; the ingestion jobs take every raw
file once (statistics, alerts to a Teams stand-in, good and bad rows apart),
the prediction jobs predict every good file exactly once, drift is computed,
the outcomes come back and live performance appears; drifted applicants
(`creditops simulate drifted`) lead by themselves to drift flagged, a challenger
trained, judged and promoted, and the model service serving it;
Ctrl-C leaves no process behind; a second start resumes on the same data and
redoes nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from creditops.db import (
    drift_metrics,
    ingestion_runs,
    outcome_ingestion_runs,
    prediction_files,
    predictions,
    retrainings,
)
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.features import FEATURE_NAMES
from creditops.settings import Settings

from .conftest import DATASET, server_reachable_dir
from .live_stack import (
    SERVICES,
    all_answer,
    all_pages,
    database,
    files_predicted,
    health_urls,
    platform_env,
    processes_left,
    rows_of,
    start,
    stop,
    stop_after_failure,
    wait_for,
)

RAW_FILES = 5
DRIFTED = [sys.executable, "-m", "creditops.cli", "simulate", "drifted"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_make_run_ingests_predicts_and_monitors_then_stops_clean_and_resumes(teams):
    data_root = server_reachable_dir("creditops-e2e-") / "data"
    env = platform_env(data_root, teams.url, RAW_FILES)
    settings = Settings(data_root=data_root)
    api = f"http://127.0.0.1:{env['CREDITOPS_API_PORT']}"
    urls = health_urls(env)
    process = start(env)
    try:
        wait_for("every service to answer", lambda: all_answer(urls), process, 240)
        assert len(processes_left(data_root, env)) > len(SERVICES)  # what the stop must end
        engine = database(settings)

        # Ingestion: every raw file once (the last step removes its claim), and an
        # alert for each file with problems.
        def ingested() -> list:
            with engine.connect() as conn:
                runs = conn.execute(select(ingestion_runs)).mappings().all()
            claims_left = settings.claims_dir.is_dir() and any(settings.claims_dir.iterdir())
            alerts = sum(run["criticality"] != "none" for run in runs)
            finished = len(runs) == RAW_FILES and not claims_left
            return finished and len(teams.received) == alerts and runs

        runs = wait_for(f"{RAW_FILES} files ingested", ingested, process, 420)
        assert not any(settings.raw_data_dir.iterdir())
        assert {run["orchestrator"] for run in runs} <= {"dagster", "airflow"}
        for run in runs:
            good = settings.good_data_dir / run["file_name"]
            bad = settings.bad_data_dir / run["file_name"]
            assert rows_of(good) == run["n_valid_rows"]
            if run["file_error"] is None:
                assert rows_of(bad) == run["n_invalid_rows"]  # no row lost or doubled
            else:
                assert bad.exists()  # the unreadable file is kept whole
        problem_files = {run["file_name"] for run in runs if run["criticality"] != "none"}
        assert problem_files, "the first start's raw files include some with errors"
        assert len(problem_files) < RAW_FILES

        # Alerts: kept on disk and received by "Teams", each naming its file and
        # linking to its Data Docs page, which the reports server serves.
        kept = {path.name for path in settings.alerts_dir.glob("*.json")}
        assert kept == {f"{name}.json" for name in problem_files}
        alerted = []
        for message in teams.received:
            card = message["attachments"][0]["content"]
            alerted.append(card["body"][0]["text"].rsplit(": ", 1)[1])
            (action,) = card["actions"]
            assert httpx.get(action["url"], timeout=5).status_code == 200
        assert sorted(alerted) == sorted(problem_files)
        statistics = httpx.get(
            f"{api}/monitoring/panels/ingestion_runs", params={"minutes": 60}, timeout=10
        ).json()
        assert sorted(row["file_name"] for row in statistics) == sorted(
            run["file_name"] for run in runs
        )

        # Predictions: every good file's rows exactly once, seen through the API.
        good_files = {run["file_name"]: run["n_valid_rows"] for run in runs if run["n_valid_rows"]}

        def all_predicted() -> bool:
            return files_predicted(engine) == len(good_files)

        wait_for("every good file predicted", all_predicted, process, 240)
        with engine.connect() as conn:
            ledger = conn.execute(select(prediction_files)).mappings().all()
        assert {row["file_name"]: row["n_rows"] for row in ledger} == good_files
        scheduled = all_pages(api, "scheduled")
        per_file = pd.Series([item["source_file"] for item in scheduled]).value_counts()
        assert per_file.to_dict() == good_files

        # Service metrics: Prometheus scrapes the model service and the supervisor;
        # the predictions' requests show as a request rate, read through the API.
        prometheus = f"http://127.0.0.1:{env['CREDITOPS_PROMETHEUS_PORT']}"

        def targets_up() -> bool:
            found = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
            health = {t["labels"]["job"]: t["health"] for t in found["activeTargets"]}
            return health == {"model-service": "up", "supervisor": "up", "prometheus": "up"}

        wait_for("Prometheus to scrape every target", targets_up, process, 60)

        def request_rate() -> float:
            httpx.get(f"{api}/past-predictions", params={"limit": 1}, timeout=10)
            rows = httpx.get(f"{api}/monitoring/panels/requests_per_minute", timeout=10).json()
            return rows and rows[0]["value"]

        assert wait_for("a request rate in Prometheus", request_rate, process, 60) > 0

        # Outcomes: released once their file was predicted, each file ingested once;
        # every scheduled prediction gets its outcome, the rest are orphans, counted.
        def outcome_runs() -> list:
            with engine.connect() as conn:
                runs = conn.execute(select(outcome_ingestion_runs)).mappings().all()
            return runs if len(runs) == RAW_FILES else []

        ingested_outcomes = wait_for("every outcome file ingested", outcome_runs, process, 120)
        assert sum(r["n_rows"] for r in ingested_outcomes) == len(pd.read_csv(DATASET))
        assert sum(r["n_saved"] for r in ingested_outcomes) == len(scheduled)
        for run in ingested_outcomes:
            assert set(run["problems"]) <= {"never_predicted"}, run
        performance = httpx.get(
            f"{api}/model/performance", params={"bucket": "minute"}, timeout=10
        ).json()
        (live,) = performance["totals"]
        assert live["n_labelled"] == live["n_predictions"] == len(scheduled)
        assert live["awaiting_share"] == 0 and live["roc_auc"] > 0.8
        assert sum(b["n_labelled"] for b in performance["buckets"]) == len(scheduled)

        # Drift: computed by the drift schedule over those predictions.
        def drift_computed() -> int:
            with engine.connect() as conn:
                return conn.execute(
                    select(func.count()).where(drift_metrics.c.n_current >= 100)
                ).scalar_one()

        wait_for("drift computed", drift_computed, process, 150)
        panel = httpx.get(f"{api}/monitoring/panels/feature_drift", timeout=10).json()
        assert {row["metric"] for row in panel} == set(FEATURE_NAMES)

        # The loop closes: drifted applicants, whose loans end by another rule, are
        # flagged by the drift checks, which trigger a retraining on their outcomes;
        # the challenger is judged on the newest of them, and promoted.
        simulated = subprocess.run(
            [*DRIFTED, "--batches", "4", "--rows", "2500", "--pause", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert simulated.returncode == 0, simulated.stderr

        def retrained() -> dict | None:
            with engine.connect() as conn:
                row = (
                    conn.execute(select(retrainings).where(retrainings.c.reason != "first"))
                    .mappings()
                    .first()
                )
            return row if row and row["finished_at"] else None

        retraining = wait_for("a retraining triggered by drift", retrained, process, 400)
        assert retraining["reason"] == "drift" and retraining["requested_by"] == "trigger"
        assert retraining["status"] == "promoted", retraining["evaluation"]
        assert retraining["evaluation"]["judged_on"] == "recent"
        champion = retraining["challenger_version"]
        wait_for(
            "the new champion served",
            lambda: httpx.get(f"{api}/health", timeout=5).json()["model_version"] == champion,
            process,
            60,
        )

        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(predictions)).scalar_one()
        output = stop(process)
        assert f"{RAW_FILES} files split" in output and "trained now" in output
        for service in ("api", "webapp", "reports", "dagster-webserver", "airflow-api-server"):
            assert f"\n{service} " in output  # each URL printed
        assert processes_left(data_root, env) == []
        assert EmbeddedPostgres(settings.postgres_dir).running_port() is None

        # A second start resumes: same data, nothing split, ingested or predicted again,
        # and the registry's champion served.
        process = start(env)
        wait_for("every service to answer again", lambda: all_answer(urls), process, 240)
        time.sleep(15)  # several sensor intervals
        engine = database(settings)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ingestion_runs)).scalar_one() == (
                RAW_FILES
            )
            assert (
                conn.execute(select(func.count()).select_from(predictions)).scalar_one() == stored
            )
        output = stop(process)
        assert "is champion (existing)" in output
        assert "files split" not in output
        assert processes_left(data_root, env) == []
    finally:
        stop_after_failure(process, settings)
