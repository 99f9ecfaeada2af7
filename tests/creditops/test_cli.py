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


def test_train_reports_the_held_out_metrics(tmp_path, database_url, engine):
    result = creditops(
        "train",
        CREDITOPS_DATA_ROOT=str(tmp_path),
        CREDITOPS_DATASET_PATH=str(DATASET),
        DATABASE_URL=database_url,
    )
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stdout and '"roc_auc"' in result.stdout
    again = creditops(
        "train",
        CREDITOPS_DATA_ROOT=str(tmp_path),
        CREDITOPS_DATASET_PATH=str(DATASET),
        DATABASE_URL=database_url,
    )
    assert "already trained" in again.stdout


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


def test_a_missing_dataset_is_one_line(tmp_path, database_url):
    result = creditops(
        "train",
        CREDITOPS_DATA_ROOT=str(tmp_path),
        CREDITOPS_DATASET_PATH=str(tmp_path / "missing.csv"),
        DATABASE_URL=database_url,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"creditops: dataset not found at {tmp_path / 'missing.csv'}: set "
        "CREDITOPS_DATASET_PATH, or restore data/credit_risk.csv from the repository"
    ]


def test_a_corrupt_model_is_reported_not_replaced(tmp_path, database_url):
    env = {
        "CREDITOPS_DATA_ROOT": str(tmp_path),
        "CREDITOPS_DATASET_PATH": str(DATASET),
        "DATABASE_URL": database_url,
    }
    assert creditops("train", **env).returncode == 0
    version = (tmp_path / "models" / "CURRENT").read_text().strip()
    (tmp_path / "models" / version / "model.joblib").write_bytes(b"\0garbage")
    result = creditops("train", **env)
    assert result.returncode == 1
    assert "corrupt" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_invalid_settings_are_named(tmp_path):
    result = creditops("db", "status", CREDITOPS_API_PORT="eighty")
    assert result.returncode == 2
    assert "api_port" in result.stderr and "Traceback" not in result.stderr
