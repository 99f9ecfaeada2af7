"""What benchmarks share: a throwaway PostgreSQL, a trained model, a running model service."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from creditops.db import engine_for, migrate
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.lifecycle.registry import Registry
from creditops.lifecycle.retraining import ensure_champion
from creditops.model import ModelArtifact
from creditops.settings import PROJECT_ROOT, Settings
from creditops.stack import mlflow_service, wait_until_answers
from creditops.supervision import (
    children_by_parent,
    descendants,
    process_table,
    read_status,
    status_file,
)

DATASET = PROJECT_ROOT / "data" / "credit_risk.csv"


@dataclass
class Environment:
    database_url: str
    data_root: Path
    artifact: ModelArtifact
    settings: Settings

    @property
    def variables(self) -> dict[str, str]:
        """What a process of the platform needs to find this environment."""
        return {
            "DATABASE_URL": self.database_url,
            "CREDITOPS_DATA_ROOT": str(self.data_root),
            "CREDITOPS_DATASET_PATH": str(DATASET),
            "CREDITOPS_MLFLOW_TRACKING_URI": self.settings.tracking_uri,
        }


@contextlib.contextmanager
def environment() -> Iterator[Environment]:
    """A PostgreSQL cluster, migrated, an MLflow server on it, and a first model as champion."""
    root = Path(tempfile.mkdtemp(prefix="creditops-bench-", dir="/tmp"))
    root.chmod(0o711)
    cluster = EmbeddedPostgres(root / "pg", preferred_port=0, durable=True)
    mlflow = None
    try:
        url = cluster.start()
        migrate(url)
        cluster.create_database("mlflow")
        data_root = root / "data"
        settings = Settings(
            data_root=data_root, dataset_path=DATASET, database_url=url, mlflow_port=free_port()
        )
        mlflow = mlflow_service(settings, url)
        mlflow.start(root)
        wait_until_answers(f"{mlflow.url}/health", 120, "the MLflow server")
        version, _ = ensure_champion(settings)

        yield Environment(url, data_root, Registry(settings.tracking_uri).load(version), settings)
    finally:
        if mlflow is not None and mlflow.process is not None:
            mlflow.process.terminate()
            mlflow.process.wait(30)
        engine_for(url).dispose()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


# Numbers one suite measured that another uses (the capacity model), by name.
MEASURED: dict[str, float] = {}


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot, all cores, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def proportional_mib(pid: int) -> float:
    """A process's proportional set size (shared pages split among their users), MiB."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # ended meanwhile
        return 0.0
    kib = next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return kib / 1024


def stack_memory(log_dir: Path) -> dict[str, float]:
    """MiB of each service of a `creditops run` stack with every process below it; the
    processes re-parented to the supervisor (Dagster's code servers and their runs,
    Airflow's task processes) under the orchestrator their command names."""
    status = read_status(status_file(log_dir))
    if not status or not status["running"]:
        return {}
    children = children_by_parent(process_table())
    memory: dict[str, float] = {}
    services = {s["pid"]: s["name"] for s in status["services"] if s["pid"]}
    for pid in children.get(status["supervisor_pid"], []):
        if pid in services:
            name = services[pid]
        else:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:  # ended meanwhile
                continue
            name = next((o for o in ("dagster", "airflow") if o.encode() in command), "other")
            name = f"{name} (runs, code servers)"
        tree = [pid, *descendants(pid, children)]
        memory[name] = memory.get(name, 0.0) + sum(proportional_mib(p) for p in tree)
    return memory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def model_service(env: Environment, **settings: str) -> Iterator[str]:
    """`uvicorn api.main:app` as `make run` starts it, on a free port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env.variables, **settings},
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("model service did not become healthy")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(15)


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call, after one warm-up call."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _keep_alive_client(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    latencies: list[float],
    sent_at: list[float] | None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.startswith(b"HTTP/1.1") and not name.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected response: {line!r}")
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if sent_at is not None:
                sent_at.append(started)
    finally:
        writer.close()


def load(
    base_url: str,
    path: str,
    body: bytes,
    clients: int,
    seconds: float,
    sent_at: list[float] | None = None,
) -> list[float]:
    """Keep-alive HTTP/1.1 POSTs from `clients` connections for `seconds`; the latencies
    (and into `sent_at`, when given, when each request was sent, by perf_counter).

    Any answer but 200 raises: a run that completes had no failed request."""
    url = httpx.URL(base_url)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []

    async def run() -> None:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _keep_alive_client(url.host, url.port, request, stop_at, latencies, sent_at)
                for _ in range(clients)
            )
        )

    asyncio.run(run())
    return latencies
