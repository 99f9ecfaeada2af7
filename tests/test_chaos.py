"""Chaos: the live stack is hit while raw files flow, and no row is lost or done twice.

Both orchestrators run with short intervals. While files flow in, the test kills -9
the PostgreSQL postmaster mid-ingestion, a Dagster run process and an Airflow task
process mid-run, and the model service mid-prediction-run; it drops the files people
really send: one still being written, a 0-byte one, one with a byte order mark and
Windows line endings, one with spaces and accents in its name, and an exact copy of
an ingested file under a new name. Then it lets the jobs drain and audits every row.
The faults and the time each took to recover are printed (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from creditops.db import ingestion_runs, prediction_files, predictions
from creditops.settings import Settings
from creditops.splitting import split_dataset
from creditops.supervision import process_table, read_status, status_file
from creditops.validation import UnreadableFile, read_raw_file

from .conftest import DATASET, server_reachable_dir
from .live_stack import (
    all_answer,
    database,
    health_urls,
    platform_env,
    processes_left,
    rows_of,
    start,
    stop,
    stop_after_failure,
    wait_for,
)

SPLIT_FILES = 8


@dataclass
class Fault:
    what: str
    injected_at: float
    recovered_after: float | None = None


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def service_pid(settings: Settings, name: str) -> int | None:
    status = read_status(status_file(settings.logs_dir)) or {"services": []}
    return next((s["pid"] for s in status["services"] if s["name"] == name), None)


def dagster_run_process() -> int | None:
    """A Dagster run worker: a process spawned by a Dagster code server."""
    table = process_table()
    servers = {pid for pid, _, _ in table if "dagster api grpc" in command_line(pid)}
    return next(
        (
            pid
            for pid, state, parent in table
            if state != "Z" and parent in servers and "multiprocessing" in command_line(pid)
        ),
        None,
    )


def airflow_task_process() -> int | None:
    """An Airflow task runner (`airflow worker -- <task instance id>`), not its supervisor."""
    for pid, state, _ in process_table():
        line = command_line(pid)
        if state != "Z" and line.startswith("airflow worker -- ") and "LocalExecutor" not in line:
            return pid
    return None


def poll(check, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(interval)
    return None


def applicants_csv(seed: int, line_ending: str = "\n") -> str:
    frame = pd.read_csv(DATASET).drop(columns="Status").sample(60, random_state=seed)
    return frame.to_csv(index=False, lineterminator=line_ending)


def write_slowly(path: Path, text: str) -> None:
    """Half the file, a pause shorter than the settle time, then the rest."""
    with path.open("w") as handle:
        handle.write(text[: len(text) // 2])
        handle.flush()
        time.sleep(2)
        handle.write(text[len(text) // 2 :])


def delivered_rows(content: bytes) -> int | None:
    """Data rows of a delivered file as ingestion reads them; None when it is unreadable."""
    try:
        return len(read_raw_file(content))
    except UnreadableFile:
        return None


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kills_and_awkward_files_lose_nothing_and_duplicate_nothing(teams):
    data_root = server_reachable_dir("creditops-chaos-") / "data"
    settings = Settings(data_root=data_root)
    split = split_dataset(DATASET, settings.raw_data_dir, SPLIT_FILES, 11, 0.4)
    delivered = {raw.path.name: raw.path.read_bytes() for raw in split}
    split_names = set(delivered)
    env = platform_env(data_root, teams.url, raw_files=0) | {
        "CREDITOPS_CLAIM_TIMEOUT_MINUTES": "1",
        "CREDITOPS_INGESTION_BATCH_FILES": "3",  # several runs each, to kill one mid-run
    }
    api = f"http://127.0.0.1:{env['CREDITOPS_API_PORT']}"
    urls = health_urls(env)
    faults: list[Fault] = []
    process = start(env)
    try:
        wait_for("every service to answer", lambda: all_answer(urls), process, 240)
        engine = database(settings)

        def ingested_since(names: set[str], since: float) -> bool:
            with engine.connect() as conn:
                done = conn.execute(
                    select(ingestion_runs.c.file_name).where(
                        ingestion_runs.c.ingested_at > pd.Timestamp(since, unit="s", tz="UTC"),
                    )
                ).scalars()
                done = set(done)
                return bool(done) and names <= done

        def healthy() -> bool:
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        def recovery(fault: Fault, check, timeout: float = 300) -> None:
            if poll(check, timeout, interval=0.2):
                fault.recovered_after = time.time() - fault.injected_at

        # 1. The database, while a file is claimed (being ingested).
        assert poll(lambda: any(settings.claims_dir.glob("*")), 120), "no ingestion started"
        os.kill(service_pid(settings, "postgres"), signal.SIGKILL)
        fault = Fault("kill -9 PostgreSQL postmaster mid-ingestion", time.time())
        faults.append(fault)
        recovery(fault, healthy)

        # 2. The files people send.
        raw = settings.raw_data_dir
        slow_name = "slowly written.csv"
        slow_text = applicants_csv(seed=1)
        writer = threading.Thread(target=write_slowly, args=(raw / slow_name, slow_text))
        writer.start()
        (raw / "empty.csv").write_bytes(b"")
        excel = b"\xef\xbb\xbf" + applicants_csv(seed=2, line_ending="\r\n").encode()
        (raw / "excel export.csv").write_bytes(excel)
        accents = applicants_csv(seed=3).encode()
        (raw / "agence Créteil 01.csv").write_bytes(accents)
        writer.join()
        delivered |= {
            slow_name: slow_text.encode(),
            "empty.csv": b"",
            "excel export.csv": excel,
            "agence Créteil 01.csv": accents,
        }

        # 3. A Dagster run process and an Airflow task process, mid-run.
        for what, find, orchestrator in (
            ("kill -9 a Dagster run process mid-run", dagster_run_process, "dagster"),
            ("kill -9 an Airflow task process mid-run", airflow_task_process, "airflow"),
        ):
            pid = poll(find, 300)
            assert pid, f"no {orchestrator} run seen"
            claimed = {p.name for p in settings.claims_dir.iterdir()}
            os.kill(pid, signal.SIGKILL)
            fault = Fault(what, time.time())
            faults.append(fault)
            # Recovered: the files claimed at the kill are ingested after it (by either).
            threading.Thread(
                target=recovery,
                args=(fault, lambda c=claimed, f=fault: ingested_since(c, f.injected_at)),
                daemon=True,
            ).start()

        # 4. A copy, under a new name, of a file ingested already.
        def an_ingested_file() -> str | None:
            with engine.connect() as conn:
                names = conn.execute(
                    select(ingestion_runs.c.file_name).where(
                        ingestion_runs.c.file_error.is_(None), ingestion_runs.c.n_rows > 0
                    )
                ).scalars()
                return next((name for name in names if name in split_names), None)

        original = poll(an_ingested_file, 180)
        assert original, "no split file was ingested"
        copy_name = f"copy of {original}"
        (raw / copy_name).write_bytes(delivered[original])
        delivered[copy_name] = delivered[original]

        # 5. The model service, while a prediction run holds a claim on a good file.
        def a_prediction_claim() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        select(func.count()).where(prediction_files.c.status == "claimed")
                    ).scalar_one()
                )

        mid_run = poll(a_prediction_claim, 120, interval=0.02)
        os.kill(service_pid(settings, "api"), signal.SIGKILL)
        fault = Fault(
            "kill -9 model service " + ("mid-prediction-run" if mid_run else "between runs"),
            time.time(),
        )
        faults.append(fault)
        recovery(fault, healthy)

        # Drain: every delivered file ingested once, every good file predicted.
        def drained() -> bool:
            with engine.connect() as conn:
                ingested = conn.execute(select(func.count()).select_from(ingestion_runs))
                ledger = conn.execute(
                    select(prediction_files.c.status, func.count()).group_by("status")
                )
                ingested, ledger = ingested.scalar_one(), dict(ledger.all())
            good = [p for p in settings.good_data_dir.iterdir() if not p.name.startswith(".")]
            return (
                ingested == len(delivered)
                and not any(raw.iterdir())
                and not any(settings.claims_dir.iterdir())
                and ledger == ({"predicted": len(good)} if good else {})
            )

        drain_started = time.time()
        wait_for("the jobs to drain", drained, process, 600)
        drain_time = time.time() - drain_started

        # The audit: every delivered row once, in good_data/ or bad_data/.
        with engine.connect() as conn:
            runs = {r["file_name"]: r for r in conn.execute(select(ingestion_runs)).mappings()}
            stored = dict(
                conn.execute(
                    select(predictions.c.source_file, func.count())
                    .where(predictions.c.source == "scheduled")
                    .group_by(predictions.c.source_file)
                ).all()
            )
        assert set(runs) == set(delivered)
        audit = []
        for name, content in delivered.items():
            good, bad = settings.good_data_dir / name, settings.bad_data_dir / name
            rows = delivered_rows(content)
            if runs[name]["file_error"] is not None:  # set aside whole, as it came
                assert not good.exists() and bad.read_bytes() == content, name
                split_rows = f"all to bad_data/ ({runs[name]['file_error']})"
            else:
                assert rows_of(good) + rows_of(bad) == rows, name
                split_rows = f"{rows_of(good)} good + {rows_of(bad)} bad"
            assert stored.get(name, 0) == rows_of(good), name  # predicted exactly once
            audit.append((name, rows, split_rows, stored.get(name, 0)))
        assert runs[copy_name]["file_error"] == "duplicate_file"
        assert copy_name not in stored
        assert runs["empty.csv"]["file_error"] == "empty_file"
        for name in (slow_name, "excel export.csv", "agence Créteil 01.csv"):
            assert (
                runs[name]["file_error"] is None
                and rows_of(settings.good_data_dir / name) + rows_of(settings.bad_data_dir / name)
                == 60
            )
        assert set(stored) <= set(delivered)

        # Everything came back by itself.
        status = read_status(status_file(settings.logs_dir))
        assert {s["name"]: s["state"] for s in status["services"]} == {
            s["name"]: "running" for s in status["services"]
        }
        restarts = {s["name"]: s["restarts"] for s in status["services"]}
        assert restarts["postgres"] >= 1 and restarts["api"] >= 1
        assert healthy() and all_answer(urls)
        assert all(f.recovered_after is not None for f in faults), faults

        print("\nfault | recovered after (s)")
        for f in faults:
            print(f"{f.what} | {f.recovered_after:.1f}")
        print(f"drained {drain_time:.0f} s after the last fault; restarts: {restarts}")
        print("file | rows delivered | split | predicted")
        for line in audit:
            print(" | ".join(str(cell) for cell in line))

        stop(process)
        assert processes_left(data_root, env) == []
    finally:
        stop_after_failure(process, settings)
