"""The Airflow DAG `data_ingestion`: its shape, and a real run with `airflow dags test`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from creditops.db import ingestion_runs
from creditops.splitting import split_dataset

from ..conftest import DATASET
from .conftest import airflow


def test_the_dag_files_import_cleanly(dag_shapes):
    assert dag_shapes["errors"] == {}


def test_ingestion_runs_at_the_configured_interval_without_catch_up_one_at_a_time(dag_shapes):
    dag = dag_shapes["dags"]["data_ingestion"]
    assert dag["schedule"] == "0:00:45"  # CREDITOPS_INGESTION_INTERVAL_SECONDS
    assert dag["catchup"] is False and dag["max_active_runs"] == 1


def test_the_last_three_tasks_run_in_parallel_after_validation(dag_shapes):
    tasks = dag_shapes["dags"]["data_ingestion"]["tasks"]
    last_three = ["save-statistics", "send-alerts", "split-and-save-data"]
    assert tasks["read-data"] == sorted(["validate-data", *last_three])  # they need the file
    assert tasks["validate-data"] == ["save-statistics", "send-alerts", "split-and-save-data"]
    for last in ("save-statistics", "send-alerts", "split-and-save-data"):
        assert tasks[last] == []


@pytest.mark.slow
def test_airflow_dags_test_ingests_a_file(airflow_env, tmp_path, database_url, engine):
    data_root = tmp_path / "data"
    (files,) = [split_dataset(DATASET, data_root / "raw-data", 1, error_share=1.0, seed=5)]
    result = airflow(
        airflow_env,
        "dags",
        "test",
        "data_ingestion",
        DATABASE_URL=database_url,
        CREDITOPS_DATA_ROOT=str(data_root),
        CREDITOPS_RAW_FILE_SETTLE_SECONDS="0",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "state=success" in result.stdout + result.stderr
    with engine.connect() as conn:
        run = conn.execute(select(ingestion_runs)).mappings().one()
    assert run["orchestrator"] == "airflow" and run["file_name"] == files[0].path.name
    assert not list((data_root / "raw-data").iterdir())
