"""A live stack started as `make run` starts it (`creditops run`), for the slow tests.

Free ports, an empty data root, a Teams stand-in and sped-up schedules by
configuration; helpers to wait on it, look inside it and stop it as a person would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from creditops.db import prediction_files
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.settings import Settings
from creditops.supervision import process_table

from .conftest import DATASET

SERVICES = (
    "api",
    "webapp",
    "reports",
    "dagster",
    "airflow",
    "mlflow",
    "prometheus",
    "supervisor_metrics",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def platform_env(data_root: Path, teams_url: str, raw_files: int) -> dict[str, str]:
    ours = {key for key in os.environ if key.startswith("CREDITOPS_")} | {"DATABASE_URL"}
    return {key: value for key, value in os.environ.items() if key not in ours} | {
        "CREDITOPS_DATA_ROOT": str(data_root),
        "CREDITOPS_DATASET_PATH": str(DATASET),
        "CREDITOPS_PG_PORT": "0",
        **{f"CREDITOPS_{name.upper()}_PORT": str(free_port()) for name in SERVICES},
        "CREDITOPS_RAW_FILES_ON_FIRST_START": str(raw_files),
        "CREDITOPS_INGESTION_INTERVAL_SECONDS": "2",
        "CREDITOPS_PREDICTION_INTERVAL_SECONDS": "5",
        "CREDITOPS_DRIFT_INTERVAL_MINUTES": "1",
        "CREDITOPS_OUTCOME_DELAY_SECONDS": "5",
        "CREDITOPS_OUTCOME_INTERVAL_SECONDS": "2",
        "CREDITOPS_RETRAINING_INTERVAL_SECONDS": "5",
        "CREDITOPS_RETRAIN_COOLDOWN_MINUTES": "0",
        "CREDITOPS_RETRAIN_NEW_OUTCOMES": "1000000",  # drift is the trigger here
        "CREDITOPS_PROMETHEUS_SCRAPE_SECONDS": "2",
        "CREDITOPS_TEAMS_WEBHOOK_URL": teams_url,
        # Both orchestrators drive the same folders at once (`make run` unpauses
        # Dagster only): every file must still be processed exactly once.
        "CREDITOPS_ORCHESTRATOR": "both",
    }


def start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "creditops.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen) -> str:
    """Ctrl-C, as a person would; the output of the whole run."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def wait_for(what: str, check: Callable[[], object], process: subprocess.Popen, timeout: float):
    """Poll `check` until it returns something true; fail with `what` if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"creditops run exited while waiting for {what}:\n{process.stdout.read()}")
        try:
            if result := check():
                return result
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def files_predicted(engine) -> int:
    """Good files the prediction jobs have finished."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(prediction_files.c.status == "predicted")
        ).scalar_one()


def stop_after_failure(process: subprocess.Popen, settings: Settings) -> None:
    """After a failed check: still stop the stack the clean way, and its database."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    EmbeddedPostgres(settings.postgres_dir).stop()


def health_urls(env: dict[str, str]) -> dict[str, str]:
    port = {name: env[f"CREDITOPS_{name.upper()}_PORT"] for name in SERVICES}
    return {
        "api": f"http://127.0.0.1:{port['api']}/health",
        "webapp": f"http://127.0.0.1:{port['webapp']}/_stcore/health",
        "reports": f"http://127.0.0.1:{port['reports']}/",
        "dagster": f"http://127.0.0.1:{port['dagster']}/server_info",
        "airflow": f"http://127.0.0.1:{port['airflow']}/api/v2/monitor/health",
        "mlflow": f"http://127.0.0.1:{port['mlflow']}/health",
        "prometheus": f"http://127.0.0.1:{port['prometheus']}/-/healthy",
        "supervisor_metrics": f"http://127.0.0.1:{port['supervisor_metrics']}/metrics",
    }


def all_answer(urls: dict[str, str]) -> bool:
    return all(httpx.get(url, timeout=3).status_code == 200 for url in urls.values())


def rows_of(path: Path) -> int:
    return len(pd.read_csv(path)) if path.exists() else 0


def processes_left(data_root: Path, env: dict[str, str]) -> list[str]:
    """Processes of this stack: each inherits CREDITOPS_DATA_ROOT, unless it overwrote its
    environment with a title, as Airflow's API server does, whose title names its port."""
    mark = f"CREDITOPS_DATA_ROOT={data_root}".encode()
    ports = "|".join(env[f"CREDITOPS_{name.upper()}_PORT"] for name in SERVICES)
    named_port = re.compile(rf"(?<!\d)({ports})(?!\d)")
    left = []
    for pid, state, _ in process_table():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile
            continue
        if state != "Z" and (mark in environment or named_port.search(command)):
            left.append(command)
    return left


def database(settings: Settings):
    """The stack's own database; no pooled connection outlives a stop."""
    return create_engine(EmbeddedPostgres(settings.postgres_dir).url(), poolclass=NullPool)


def all_pages(api: str, source: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"source": source, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{api}/past-predictions", params=params, timeout=10).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items
