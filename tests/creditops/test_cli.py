"""The command line as a newcomer meets it: real processes, one clear line on bad setup."""

import os
import subprocess
import sys

from ..conftest import DATASET


def creditops(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "creditops.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_retrain_judges_a_challenger_and_model_lists_the_verdict(
    tmp_path, database_url, engine, recorded_model, tracking_uri
):
    env = {
        "CREDITOPS_DATA_ROOT": str(tmp_path),
        "CREDITOPS_DATASET_PATH": str(DATASET),
        "DATABASE_URL": database_url,
        "CREDITOPS_MLFLOW_TRACKING_URI": tracking_uri,
    }
    train = creditops("train", **env)
    assert train.returncode == 0, train.stderr
    assert f"version {recorded_model.version} is champion (already there" in train.stdout
    # The same data and seed make the same model: no better than the champion.
    retrain = creditops("retrain", "--requested-by", "test", **env)
    assert retrain.returncode == 0, retrain.stderr
    lines = retrain.stdout.splitlines()
    assert "rejected" in lines[0] and f"champion was {recorded_model.version}" in lines[0]
    assert lines[1].startswith("  FAIL  challenger_beats_champion: ROC AUC on the holdout set")
    assert "(+0.0000; needs +0.0050)" in lines[1]
    listing = creditops("model", "list", **env).stdout.splitlines()
    assert "rejected" in listing[0] and "challenger_beats_champion" not in listing[0]
    assert any("champion" in line for line in listing)


def test_an_unreachable_database_url_is_one_line_without_traceback(tmp_path):
    result = creditops(
        "train",
        CREDITOPS_DATA_ROOT=str(tmp_path),
        DATABASE_URL="postgresql+psycopg://user:pw@127.0.0.1:1/db",
    )
    assert result.returncode == 1
    assert result.stderr.startswith("creditops: cannot reach the database at ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_missing_dataset_is_one_line(tmp_path, database_url, engine, tracking_uri):
    result = creditops(
        "retrain",
        CREDITOPS_MLFLOW_TRACKING_URI=tracking_uri,
        CREDITOPS_DATA_ROOT=str(tmp_path),
        CREDITOPS_DATASET_PATH=str(tmp_path / "missing.csv"),
        DATABASE_URL=database_url,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"creditops: dataset not found at {tmp_path / 'missing.csv'}: set "
        "CREDITOPS_DATASET_PATH, or restore data/credit_risk.csv from the repository"
    ]


def test_commands_that_need_the_registry_say_how_to_reach_it(tmp_path, database_url):
    result = creditops(
        "model",
        "list",
        CREDITOPS_DATA_ROOT=str(tmp_path),
        DATABASE_URL=database_url,
        CREDITOPS_MLFLOW_TRACKING_URI="http://127.0.0.1:9",
    )
    assert result.returncode == 1
    assert "MLflow registry at http://127.0.0.1:9 does not answer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_settings_are_named(tmp_path):
    result = creditops("db", "status", CREDITOPS_API_PORT="eighty")
    assert result.returncode == 2
    assert "api_port" in result.stderr and "Traceback" not in result.stderr
