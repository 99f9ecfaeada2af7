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
from creditops.model import ModelArtifact, record_model_version
from creditops.settings import PROJECT_ROOT
from creditops.training import train_model

DATASET = PROJECT_ROOT / "data" / "credit_risk.csv"


@dataclass
class Environment:
    database_url: str
    data_root: Path
    artifact: ModelArtifact


@contextlib.contextmanager
def environment() -> Iterator[Environment]:
    """A durable-off PostgreSQL cluster, migrated, with a freshly trained model recorded."""
    root = Path(tempfile.mkdtemp(prefix="creditops-bench-", dir="/tmp"))
    root.chmod(0o711)
    cluster = EmbeddedPostgres(root / "pg", preferred_port=0, durable=True)
    try:
        url = cluster.start()
        migrate(url)
        data_root = root / "data"
        artifact = train_model(DATASET, data_root / "models", 42, 0.2)
        record_model_version(engine_for(url), artifact, data_root / "models")
        yield Environment(url, data_root, artifact)
    finally:
        engine_for(url).dispose()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


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
        env={
            **os.environ,
            "DATABASE_URL": env.database_url,
            "CREDITOPS_DATA_ROOT": str(env.data_root),
            **settings,
        },
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
    host: str, port: int, request: bytes, stop_at: float, latencies: list[float]
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
    finally:
        writer.close()


def load(base_url: str, path: str, body: bytes, clients: int, seconds: float) -> list[float]:
    """Keep-alive HTTP/1.1 POSTs from `clients` connections for `seconds`; the latencies."""
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
                _keep_alive_client(url.host, url.port, request, stop_at, latencies)
                for _ in range(clients)
            )
        )

    asyncio.run(run())
    return latencies
