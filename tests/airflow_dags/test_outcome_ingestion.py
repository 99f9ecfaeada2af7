"""The Airflow DAG `outcome_ingestion`: its shape, and a real run with `airflow dags test`."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from creditops.db import outcome_ingestion_runs, outcomes
from creditops.features import EXAMPLE_APPLICANT

from .conftest import airflow


def test_outcomes_run_at_the_configured_interval_read_validate_save(dag_shapes):
    dag = dag_shapes["dags"]["outcome_ingestion"]
    assert dag["schedule"] == "0:00:30"  # CREDITOPS_OUTCOME_INTERVAL_SECONDS
    assert dag["catchup"] is False and dag["max_active_runs"] == 3  # as set
    assert dag["tasks"] == {
        "read-outcomes": ["save-outcomes", "validate-outcomes"],
        "validate-outcomes": ["save-outcomes"],
        "save-outcomes": [],
    }


@pytest.mark.slow
def test_airflow_dags_test_ingests_an_outcome_file(
    airflow_env, tmp_path, database_url, engine, model_service
):
    body = {
        "source": "scheduled",
        "applicants": [{"application_id": i, **EXAMPLE_APPLICANT} for i in ("a1", "a2")],
    }
    httpx.post(f"{model_service}/predict", json=body).raise_for_status()
    data_root = tmp_path / "data"
    (data_root / "outcomes").mkdir(parents=True)
    (data_root / "outcomes" / "labels.csv").write_text(
        "application_id,status,decided_at\na1,bad,2026-11-20\na2,good,2026-11-20\nzz,bad,2026-11-20\n"
    )
    result = airflow(
        airflow_env,
        "dags",
        "test",
        "outcome_ingestion",
        DATABASE_URL=database_url,
        CREDITOPS_DATA_ROOT=str(data_root),
        CREDITOPS_RAW_FILE_SETTLE_SECONDS="0",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "state=success" in result.stdout + result.stderr
    with engine.connect() as conn:
        run = conn.execute(select(outcome_ingestion_runs)).mappings().one()
        saved = dict(conn.execute(select(outcomes.c.application_id, outcomes.c.status)).all())
    assert run["orchestrator"] == "airflow" and (run["n_saved"], run["n_invalid"]) == (2, 1)
    assert run["problems"] == {"never_predicted": 1}
    assert saved == {"a1": "bad", "a2": "good"}
    assert not list((data_root / "outcomes").iterdir())
