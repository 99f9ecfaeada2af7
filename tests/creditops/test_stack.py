"""`creditops run` (what `make run` runs) from an empty data root: up, serving, stopped clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from creditops.embedded_postgres import EmbeddedPostgres

from ..conftest import DATASET, server_reachable_dir
from ..creditops.test_features import VALID


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_platform(data_root, api_port: int) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL",)} | {
        "CREDITOPS_DATA_ROOT": str(data_root),
        "CREDITOPS_DATASET_PATH": str(DATASET),
        "CREDITOPS_API_PORT": str(api_port),
        "CREDITOPS_PG_PORT": "0",
        "CREDITOPS_REPORTS_PORT": str(free_port()),
        "CREDITOPS_WEBAPP_PORT": str(free_port()),
        "CREDITOPS_DAGSTER_PORT": str(free_port()),
        "CREDITOPS_AIRFLOW_PORT": str(free_port()),
        "CREDITOPS_RAW_FILES_ON_FIRST_START": "4",
    }
    env.pop("CREDITOPS_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "creditops.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(base: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail("the platform did not become healthy")


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output


def processes_mentioning(text: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if text in line and "ps -eo" not in line]


@pytest.mark.slow
def test_run_brings_up_database_and_model_then_stops_everything_and_resumes():
    data_root = server_reachable_dir("creditops-stack-") / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        first = start_platform(data_root, port)
        wait_healthy(base, first)
        body = {"source": "webapp", "applicants": [VALID]}
        assert httpx.post(f"{base}/predict", json=body, timeout=10).status_code == 200
        output = stop(first)
        assert first.returncode == 0, output
        assert "trained now" in output and f"http://127.0.0.1:{port}/docs" in output
        assert "dagster" in output and "airflow" in output and "4 files split" in output
        assert processes_mentioning(str(data_root)) == []
        assert processes_mentioning(f"--port {port}") == []
        assert processes_mentioning("dagster code-server") == []
        assert EmbeddedPostgres(data_root / "postgres").running_port() is None

        second = start_platform(data_root, port)
        wait_healthy(base, second)
        items = httpx.get(f"{base}/past-predictions", timeout=10).json()["items"]
        output = stop(second)
        assert "existing" in output  # the same model, not retrained
        assert len(items) == 1  # and the same database
    finally:
        EmbeddedPostgres(data_root / "postgres").stop()
