"""The Airflow DAG `data_ingestion`: its shape, and a real run with `airflow dags test`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from creditops.db import ingestion_runs
from creditops.settings import Settings
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
    assert tasks["read-data"] == ["validate-data"]  # the claimed batches, mapped
    assert tasks["validate-data"] == last_three  # each batch's files and reports
    for last in last_three:
        assert tasks[last] == []


@pytest.mark.slow
def test_airflow_dags_test_ingests_a_backlog_in_mapped_batches_each_file_once(
    airflow_env, tmp_path, database_url, engine
):
    data_root = tmp_path / "data"
    files = split_dataset(DATASET, data_root / "raw-data", 5, error_share=0.6, seed=5)
    result = airflow(
        airflow_env,
        "dags",
        "test",
        "data_ingestion",
        DATABASE_URL=database_url,
        CREDITOPS_DATA_ROOT=str(data_root),
        CREDITOPS_RAW_FILE_SETTLE_SECONDS="0",
        CREDITOPS_INGESTION_BATCH_FILES="2",
        CREDITOPS_AIRFLOW_BATCHES_PER_RUN="2",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "state=success" in output
    with engine.connect() as conn:
        runs = conn.execute(select(ingestion_runs)).mappings().all()
    names = sorted(run["file_name"] for run in runs)
    assert len(names) == 4 == len(set(names))  # two batches of two files: one row each
    assert {run["orchestrator"] for run in runs} == {"airflow"}
    assert set(names) < {f.path.name for f in files}
    (left,) = list((data_root / "raw-data").iterdir())  # the fifth waits for the next run
    assert left.name not in names
    folders = Settings(data_root=data_root)
    alerts = list(folders.alerts_dir.iterdir())
    assert len(alerts) == sum(run["criticality"] != "none" for run in runs)
    for name in names:  # each file's rows went to good_data/ or bad_data/
        assert (folders.good_data_dir / name).exists() or (folders.bad_data_dir / name).exists()
