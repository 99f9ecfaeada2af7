"""An Airflow home for the tests: its own metadata database, our DAG folder, no examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from creditops.settings import PROJECT_ROOT

AIRFLOW = Path(sys.executable).parent / "airflow"


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "airflow_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "PATH": f"{AIRFLOW.parent}:{os.environ['PATH']}",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def airflow(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, *args], env={**env, **extra}, capture_output=True, text=True, timeout=300
    )


SHAPE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "schedule": str(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tasks": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""


@pytest.fixture(scope="session")
def dag_shapes(airflow_env) -> dict:
    """The DAGs as Airflow parses them, with the intervals set to 45 s, 90 s, 30 s and 300 s,
    and two prediction runs, three outcome runs at once."""
    env = {
        **airflow_env,
        "CREDITOPS_INGESTION_INTERVAL_SECONDS": "45",
        "CREDITOPS_PREDICTION_INTERVAL_SECONDS": "90",
        "CREDITOPS_OUTCOME_INTERVAL_SECONDS": "30",
        "CREDITOPS_RETRAINING_INTERVAL_SECONDS": "300",
        "CREDITOPS_PREDICTION_CONCURRENCY": "2",
        "CREDITOPS_OUTCOME_CONCURRENCY": "3",
    }
    result = subprocess.run(
        [sys.executable, "-c", SHAPE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
