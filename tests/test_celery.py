"""Airflow on Celery: `creditops run` with CREDITOPS_AIRFLOW_EXECUTOR=celery starts Redis
and two Celery workers, and the same DAGs take every raw file, and predict every good
file, exactly once, with tasks run by both workers; a hung worker is restarted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pandas as pd
import pytest
from sqlalchemy import select

from creditops.db import ingestion_runs
from creditops.settings import Settings
from creditops.supervision import read_status, status_file

from .conftest import server_reachable_dir
from .live_stack import (
    all_answer,
    all_pages,
    database,
    files_predicted,
    free_port,
    health_urls,
    platform_env,
    processes_left,
    start,
    stop,
    stop_after_failure,
    wait_for,
)

RAW_FILES = 6
WORKERS = 2
# A worker's log line for each task it runs: "... Executing workload in Celery: ...
# ti=TaskInstanceDTO(..., task_id='read-data', dag_id='data_ingestion', ...)".
EXECUTED = re.compile(r"Executing workload in Celery: .*task_id='([^']+)', dag_id='([^']+)'")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_both_dags_run_on_two_celery_workers_exactly_once(teams):
    data_root = server_reachable_dir("creditops-celery-") / "data"
    env = platform_env(data_root, teams.url, RAW_FILES) | {
        "CREDITOPS_ORCHESTRATOR": "airflow",
        "CREDITOPS_AIRFLOW_EXECUTOR": "celery",
        "CREDITOPS_AIRFLOW_CELERY_WORKERS": str(WORKERS),
        "CREDITOPS_REDIS_PORT": str(free_port()),
        "CREDITOPS_INGESTION_BATCH_FILES": "1",  # one mapped task per file: spread out
    }
    settings = Settings(data_root=data_root)
    api = f"http://127.0.0.1:{env['CREDITOPS_API_PORT']}"
    process = start(env)
    try:
        wait_for("every service to answer", lambda: all_answer(health_urls(env)), process, 240)
        engine = database(settings)

        def ingested() -> list:
            with engine.connect() as conn:
                runs = conn.execute(select(ingestion_runs)).mappings().all()
            claims_left = settings.claims_dir.is_dir() and any(settings.claims_dir.iterdir())
            return len(runs) == RAW_FILES and not claims_left and runs

        runs = wait_for(f"{RAW_FILES} files ingested", ingested, process, 300)
        assert sorted(run["file_name"] for run in runs) == sorted(
            {run["file_name"] for run in runs}
        )
        assert {run["orchestrator"] for run in runs} == {"airflow"}
        good_files = {run["file_name"]: run["n_valid_rows"] for run in runs if run["n_valid_rows"]}

        def all_predicted() -> bool:
            return files_predicted(engine) == len(good_files)

        wait_for("every good file predicted", all_predicted, process, 180)
        per_file = pd.Series([item["source_file"] for item in all_pages(api, "scheduled")])
        assert per_file.value_counts().to_dict() == good_files  # each row once

        # The tasks ran on the Celery workers, both of them.
        executed = {
            number: EXECUTED.findall(
                (settings.logs_dir / f"airflow-celery-worker-{number}.log").read_text()
            )
            for number in range(1, WORKERS + 1)
        }
        assert all(executed.values()), {number: len(tasks) for number, tasks in executed.items()}
        dags = {dag for tasks in executed.values() for _, dag in tasks}
        assert {"data_ingestion", "scheduled_predictions"} <= dags
        tasks = {task for tasks in executed.values() for task, _ in tasks}
        assert {"read-data", "validate-data", "split-and-save-data", "make_predictions"} <= tasks

        status = subprocess.run(
            [sys.executable, "-m", "creditops.cli", "status"],
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        for service in ("redis", *(f"airflow-celery-worker-{n}" for n in range(1, WORKERS + 1))):
            assert re.search(rf"^{service} +running ", status, re.MULTILINE), status

        # A worker that hangs (frozen: it no longer answers pings through Redis) is
        # killed and started again by the supervisor.
        def worker(name: str) -> dict:
            status = read_status(status_file(settings.logs_dir))
            return next(s for s in status["services"] if s["name"] == name)

        frozen = worker("airflow-celery-worker-1")["pid"]
        os.kill(frozen, signal.SIGSTOP)

        def restarted() -> dict | None:
            now = worker("airflow-celery-worker-1")
            return now if now["state"] == "running" and now["pid"] != frozen else None

        again = wait_for("the frozen worker restarted", restarted, process, 120)
        assert again["last_exit"].startswith("hung: a ping through Redis to worker-1@")
        assert "\nredis " in stop(process)  # its address printed
        assert processes_left(data_root, env) == []
    finally:
        stop_after_failure(process, settings)
