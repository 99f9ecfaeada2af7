"""The Airflow DAG `scheduled_predictions`: shape, a skipped idle run, a real prediction run."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from sqlalchemy import func, select

from creditops.db import predictions

from ..conftest import DATASET
from .conftest import airflow


def test_predictions_run_at_the_configured_interval_check_then_predict(dag_shapes):
    dag = dag_shapes["dags"]["scheduled_predictions"]
    assert dag["schedule"] == "0:01:30"  # CREDITOPS_PREDICTION_INTERVAL_SECONDS
    assert dag["catchup"] is False and dag["max_active_runs"] == 2  # as set
    assert dag["tasks"] == {"check_for_new_data": ["make_predictions"], "make_predictions": []}


def run_dag(env, tmp_path, database_url, api_url) -> dict[str, str]:
    result = airflow(
        env,
        "dags",
        "test",
        "scheduled_predictions",
        DATABASE_URL=database_url,
        CREDITOPS_DATA_ROOT=str(tmp_path / "data"),
        CREDITOPS_API_URL=api_url,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    run_id = re.search(r"run_id=(manual__[^,\s]+)", output).group(1)
    states = airflow(
        env, "tasks", "states-for-dag-run", "scheduled_predictions", run_id, "-o", "json"
    )
    rows = json.loads(states.stdout.strip().splitlines()[-1])
    return {row["task_id"]: row["state"] for row in rows}


@pytest.mark.slow
def test_with_nothing_new_every_task_of_the_run_is_skipped(
    airflow_env, tmp_path, database_url, engine, model_service
):
    states = run_dag(airflow_env, tmp_path, database_url, model_service)
    assert states == {"check_for_new_data": "skipped", "make_predictions": "skipped"}


@pytest.mark.slow
def test_new_good_files_are_predicted_by_airflow(
    airflow_env, tmp_path, database_url, engine, model_service
):
    good = tmp_path / "data" / "good_data"
    good.mkdir(parents=True)
    pd.read_csv(DATASET).drop(columns="Status").head(40).to_csv(good / "a.csv", index=False)
    states = run_dag(airflow_env, tmp_path, database_url, model_service)
    assert states == {"check_for_new_data": "success", "make_predictions": "success"}
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count()).where(predictions.c.source_file == "a.csv")
        ).scalar_one()
    assert count == 40
