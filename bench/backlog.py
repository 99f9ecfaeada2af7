"""A backlog of 1,000 raw files of ~75 rows: drained by Dagster alone, then by Airflow alone.

Each orchestrator gets its own stack (`creditops run`, its own data root and
database, the default schedules; the one file a first start writes is counted).
Once the stack answers, the files land in raw-data/ at once; drained means every
file has its statistics row, its rows in good_data/ or bad_data/, and raw-data/
and the claims are empty. Then the time until every good file is predicted.
Per-file results are checked: one statistics row, one report page and one alert
(when it has problems) per file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from creditops.db import ingestion_runs, prediction_files
from creditops.embedded_postgres import EmbeddedPostgres
from creditops.settings import Settings
from creditops.splitting import split_dataset

from .harness import DATASET, MEASURED, Environment, busy_cpu_seconds, free_port, stack_memory

FILES = 1_000
ROWS_PER_FILE = 75
# Every service's port, free ones for this stack (the database picks its own).
PORTS = [name.removesuffix("_port") for name in Settings.model_fields if name.endswith("_port")]
PORTS.remove("pg")


def backlog(raw_dir: Path, work: Path) -> int:
    """FILES files of ROWS_PER_FILE applicants, 30% of them with injected errors."""
    dataset = pd.read_csv(DATASET)
    copies = -(-FILES * ROWS_PER_FILE // len(dataset))
    big = pd.concat([dataset] * copies, ignore_index=True).head(FILES * ROWS_PER_FILE)
    source = work / "backlog-source.csv"
    big.to_csv(source, index=False)
    staging = work / "staging"
    split_dataset(source, staging, FILES, seed=18, error_share=0.3)
    raw_dir.mkdir(parents=True, exist_ok=True)
    for path in staging.iterdir():  # a rename each: the files appear at once, whole
        os.rename(path, raw_dir / path.name)
    return FILES


def drain(orchestrator: str) -> list[tuple[str, str]]:
    root = Path(tempfile.mkdtemp(prefix=f"creditops-backlog-{orchestrator}-", dir="/tmp"))
    root.chmod(0o711)
    settings = Settings(data_root=root / "data")
    ports = {name: free_port() for name in PORTS}
    ours = {key for key in os.environ if key.startswith("CREDITOPS_")} | {"DATABASE_URL"}
    env = {key: value for key, value in os.environ.items() if key not in ours} | {
        "CREDITOPS_DATA_ROOT": str(settings.data_root),
        "CREDITOPS_DATASET_PATH": str(DATASET),
        "CREDITOPS_PG_PORT": "0",
        "CREDITOPS_RAW_FILES_ON_FIRST_START": "1",  # the least; counted below
        "CREDITOPS_ORCHESTRATOR": orchestrator,
        **{f"CREDITOPS_{name.upper()}_PORT": str(port) for name, port in ports.items()},
    }
    log = Path(tempfile.gettempdir()) / f"creditops-backlog-{orchestrator}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "creditops.cli", "run"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        orchestrator_url = (
            f"http://127.0.0.1:{ports['dagster']}/server_info"
            if orchestrator == "dagster"
            else f"http://127.0.0.1:{ports['airflow']}/api/v2/monitor/health"
        )
        until(lambda: answers(f"http://127.0.0.1:{ports['api']}/health"), 600, process)
        until(lambda: answers(orchestrator_url), 600, process)
        engine = create_engine(EmbeddedPostgres(settings.postgres_dir).url(), poolclass=NullPool)
        backlog(settings.raw_data_dir, root)
        peak = PeakMemory(settings.logs_dir)
        peak.start()
        started, cpu_started = time.perf_counter(), busy_cpu_seconds()

        def drained() -> bool:
            with engine.connect() as conn:
                done = conn.execute(select(func.count()).select_from(ingestion_runs)).scalar()
            return done >= FILES + 1 and not any_file(settings.raw_data_dir, settings.claims_dir)

        until(drained, 1800, process)
        drained_in, cpu_drained = time.perf_counter() - started, busy_cpu_seconds()
        good = {p.name for p in settings.good_data_dir.iterdir()}
        good_rows = sum(len(pd.read_csv(settings.good_data_dir / name)) for name in good)

        def predicted() -> bool:
            with engine.connect() as conn:
                done = conn.execute(
                    select(prediction_files.c.file_name).where(
                        prediction_files.c.status != "claimed"
                    )
                ).scalars()
                return good <= set(done)

        until(predicted, 1800, process)
        predicted_in = time.perf_counter() - started - drained_in
        cpu_predicting = busy_cpu_seconds() - cpu_drained
        peak.stop()
        with engine.connect() as conn:
            runs = conn.execute(select(ingestion_runs)).mappings().all()
        names = [run["file_name"] for run in runs]
        with_problems = sum(run["criticality"] != "none" for run in runs)
        alerts = sum(1 for _ in settings.alerts_dir.iterdir())
        pages = sum(1 for _ in (settings.docs_dir / "validations").glob("*/*/*/*.html"))
        once = len(names) == len(set(names)) == FILES + 1 == pages and alerts == with_problems
        engine.dispose()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)
    label = f"{FILES:,} raw files x {ROWS_PER_FILE} rows, {orchestrator} alone"
    per_file = (cpu_drained - cpu_started) / FILES
    per_1000_predicted = cpu_predicting / good_rows * 1000
    MEASURED[f"{orchestrator}.cpu_per_file"] = per_file
    MEASURED[f"{orchestrator}.cpu_per_1000_predicted"] = per_1000_predicted
    MEASURED[f"{orchestrator}.good_row_share"] = good_rows / (FILES * ROWS_PER_FILE)
    for service, mib in peak.mib.items():
        MEASURED[f"{orchestrator}.memory.{service}"] = mib
    return [
        (f"{label}: drained (goal < 600 s)", f"{drained_in:.0f} s"),
        ("  then every good file predicted (goal < 300 s)", f"{predicted_in:.0f} s"),
        (
            "  one statistics row, report and alert per file",
            "yes" if once else f"NO ({len(names)} rows, {alerts} alerts, {pages} pages)",
        ),
        ("  machine CPU while draining, per file", f"{per_file:.3f} core-s"),
        ("  machine CPU while predicting, per 1,000 good rows", f"{per_1000_predicted:.3f} core-s"),
        *(
            (f"  peak memory (PSS), {service}", f"{mib:,.0f} MiB")
            for service, mib in sorted(peak.mib.items(), key=lambda item: -item[1])
        ),
    ]


class PeakMemory(threading.Thread):
    """Samples the stack's memory by service every 5 s; keeps each one's peak."""

    def __init__(self, log_dir: Path) -> None:
        super().__init__(daemon=True)
        self.log_dir, self.mib, self.done = log_dir, {}, threading.Event()

    def run(self) -> None:
        while not self.done.wait(5):
            for service, mib in stack_memory(self.log_dir).items():
                self.mib[service] = max(mib, self.mib.get(service, 0.0))

    def stop(self) -> None:
        self.done.set()
        self.join()


def any_file(*folders: Path) -> bool:
    return any(folder.is_dir() and any(folder.iterdir()) for folder in folders)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def until(check, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            raise RuntimeError("creditops run stopped during the backlog benchmark (see its log)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout:.0f} s")
        time.sleep(2)


def run(env: Environment) -> list[tuple[str, str]]:
    return [*drain("dagster"), *drain("airflow")]
