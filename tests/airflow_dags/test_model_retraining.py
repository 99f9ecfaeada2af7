"""The Airflow DAG `model_retraining`: its shape, and real runs with `airflow dags test`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from creditops.db import retrainings
from creditops.lifecycle import retraining
from creditops.lifecycle.registry import CHAMPION

from .conftest import airflow


def test_retraining_runs_its_four_steps_in_order(dag_shapes):
    dag = dag_shapes["dags"]["model_retraining"]
    assert dag["schedule"] == "0:05:00"  # CREDITOPS_RETRAINING_INTERVAL_SECONDS
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["tasks"] == {
        "build-training-set": ["train-challenger"],
        "train-challenger": ["evaluate-challenger"],
        "evaluate-challenger": ["promote-model"],
        "promote-model": [],
    }


@pytest.mark.slow
def test_airflow_runs_a_requested_retraining_and_skips_without_one(
    airflow_env, tmp_path, database_url, engine, settings, registry, recorded_model
):
    env = {
        "DATABASE_URL": database_url,
        "CREDITOPS_DATA_ROOT": str(tmp_path / "data"),
        "CREDITOPS_DATASET_PATH": str(settings.dataset),
        "CREDITOPS_MLFLOW_TRACKING_URI": settings.tracking_uri,
    }
    idle = airflow(airflow_env, "dags", "test", "model_retraining", **env)
    assert idle.returncode == 0, idle.stdout[-3000:] + idle.stderr[-3000:]
    assert "no retraining requested and no trigger fired" in idle.stdout + idle.stderr
    requested = retraining.request_retraining(engine, "manual", "from a test", "pytest")
    result = airflow(airflow_env, "dags", "test", "model_retraining", **env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with engine.connect() as conn:
        row = conn.execute(select(retrainings)).mappings().one()
    assert row["id"] == requested["id"] and row["orchestrator"] == "airflow"
    # The same data and seed: no better than the champion, so promote-model is skipped.
    assert row["status"] == "rejected" and row["evaluation"]["passed"] is False
    assert "challenger rejected: ROC AUC on the holdout set" in result.stdout + result.stderr
    assert registry.alias_version(CHAMPION) == recorded_model.version
