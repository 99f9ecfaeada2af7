"""The capacity model of docs/scaling.md: what one core does, measured, and what a load
needs, derived here from those measurements so that the document's numbers are the ones
`make bench` prints.

Measured: the ingestion work per file and per 1,000 rows (the pipeline's steps in one
process, batches of 50 files of 75 and of 1,000 rows; machine CPU, so the database's
share counts); the model service's CPU per prediction, batch and single-row (machine
CPU less the load generator's own); the rows it writes per second; the database's bytes
per stored prediction; the Data Docs bytes per file. From the backlog suite (run by
this one if it has not run yet): the machine's CPU per file under each orchestrator,
per 1,000 predicted rows, and each service's peak memory.
"""

from __future__ import annotations

import json
import math
import shutil
import time

import httpx
import pandas as pd
from sqlalchemy import text

from creditops.data_errors import inject
from creditops.db import engine_for
from creditops.settings import Settings

from . import backlog, ingestion
from .api import BATCH_ROWS, applicants
from .harness import DATASET, MEASURED, Environment, busy_cpu_seconds, load, model_service

DAY = 86_400
# The busiest hour against the day's mean: sizing is for it (an assumption, stated).
PEAK = 4.0
# CPU a replica or worker is planned to use at the peak, as the HPA's target has it.
TARGET_UTILIZATION = 0.7
BATCH_FILES = 50
RETENTION_DAYS = 90
LOADS = {"predictions": 1_000_000, "raw_files": 100_000}


def ingestion_work(env: Environment, rows_per_file: int) -> tuple[float, float]:
    """Machine CPU seconds per file for the pipeline's steps over batches of 50 files of
    `rows_per_file` rows (30% of files with errors), and Data Docs bytes per file."""
    from creditops import pipeline

    settings = Settings(
        data_root=env.data_root / f"capacity-{rows_per_file}",
        database_url=env.database_url,
        raw_file_settle_seconds=0,
        ingestion_batch_files=BATCH_FILES,
        airflow_batches_per_run=1,
    )
    dataset = pd.read_csv(DATASET).drop(columns="Status")

    def write_batch(tag: str) -> None:
        settings.raw_data_dir.mkdir(parents=True, exist_ok=True)
        for n in range(BATCH_FILES):
            frame = dataset.sample(rows_per_file, replace=True, random_state=n)
            frame = frame.assign(Expenses=frame["Expenses"] + n)  # no file repeats another
            if n % 10 < 3:
                frame = inject(frame, ["out_of_range", "missing_value"], seed=n, share=0.05).frame
            partial = settings.data_root / f"{tag}-{n:03d}.csv"
            frame.to_csv(partial, index=False)
            partial.rename(settings.raw_data_dir / partial.name)  # appears whole

    def ingest() -> None:
        (batch,) = pipeline.read_data_batches(settings)
        reports = pipeline.validate_batch(settings, batch)
        pipeline.for_each_file(
            pipeline.save_statistics_step, settings, batch, reports, orchestrator="cli"
        )
        pipeline.for_each_file(pipeline.send_alerts, settings, batch, reports)
        pipeline.for_each_file(pipeline.split_and_save_data, settings, batch, reports)

    write_batch("warm")  # the first batch of a process builds the suite and context
    ingest()
    docs_before = folder_bytes(settings.docs_dir)
    write_batch("measured")
    cpu = busy_cpu_seconds()
    ingest()
    cpu_per_file = (busy_cpu_seconds() - cpu) / BATCH_FILES
    docs_per_file = (folder_bytes(settings.docs_dir) - docs_before) / BATCH_FILES
    shutil.rmtree(settings.data_root, ignore_errors=True)
    return cpu_per_file, docs_per_file


def folder_bytes(folder) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def service_cpu(action) -> float:
    """Machine CPU seconds the action made the services use: all busy time, less this
    (client) process's own."""
    busy, own = busy_cpu_seconds(), time.process_time()
    action()
    return busy_cpu_seconds() - busy - (time.process_time() - own)


def predictions(env: Environment) -> dict[str, float]:
    """Service CPU per 1,000 batch rows and per single-row request, rows written per
    second each way, and the database's bytes per stored prediction."""
    engine = engine_for(env.database_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE predictions"))
    batch = applicants(BATCH_ROWS)
    body = json.dumps({"source": "scheduled", "source_file": "c.csv", "applicants": batch})
    single = json.dumps({"source": "webapp", "applicants": batch[:1]}).encode()
    found: dict[str, float] = {}
    with model_service(env) as base, httpx.Client(base_url=base, timeout=60) as client:

        def post_batches() -> None:
            for _ in range(10):
                client.post(
                    "/predict", content=body, headers={"content-type": "application/json"}
                ).raise_for_status()

        post_batches()  # warm
        started = time.perf_counter()
        cpu = service_cpu(post_batches)
        found["batch_rows_per_s"] = 10 * BATCH_ROWS / (time.perf_counter() - started)
        found["cpu_per_1000_batch"] = cpu / (10 * BATCH_ROWS) * 1000
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE predictions"))
            size, count = conn.execute(
                text("SELECT pg_total_relation_size('predictions'), count(*) FROM predictions")
            ).one()
        found["bytes_per_prediction"] = size / count

        latencies: list[float] = []
        seconds = 10.0
        cpu = service_cpu(
            lambda: latencies.extend(load(base, "/predict", single, clients=32, seconds=seconds))
        )
        found["single_per_s"] = len(latencies) / seconds
        found["cpu_per_single"] = cpu / len(latencies)
    return found


def plan(m: dict[str, float]) -> list[tuple[str, str]]:
    """What the loads need, from the measurements alone: docs/scaling.md's figures."""
    per_s = LOADS["predictions"] / DAY * PEAK
    single_cores = per_s * m["cpu_per_single"]
    rows = [
        (f"1,000,000 predictions a day: {per_s:.0f}/s at the peak hour ({PEAK:g}x mean)", ""),
        ("  cores, as batches (scheduled files)", f"{per_s * m['cpu_per_1000_batch'] / 1000:.3f}"),
        ("  cores, as single-row requests (webapp, online)", f"{single_cores:.3f}"),
        (
            f"  model service replicas (1 core, {TARGET_UTILIZATION:.0%} busy at peak, 2 at least)",
            f"{max(2, math.ceil(single_cores / TARGET_UTILIZATION))}",
        ),
        ("  share of the measured single-row write rate", f"{per_s / m['single_per_s']:.1%}"),
        growth(LOADS["predictions"], m["bytes_per_prediction"]),
    ]
    files_s = LOADS["raw_files"] / DAY * PEAK
    good_rows = LOADS["raw_files"] * backlog.ROWS_PER_FILE * m["airflow.good_row_share"]
    rows += [
        (f"100,000 raw files a day of {backlog.ROWS_PER_FILE} rows: {files_s:.1f}/s at peak", ""),
        *(
            (f"  cores to ingest, {o} (whole machine)", f"{files_s * m[f'{o}.cpu_per_file']:.1f}")
            for o in ("airflow", "dagster")
        ),
        ("  of which the pipeline's own work", f"{files_s * m['work_per_file_75']:.1f}"),
        (
            f"  Airflow Celery workers of 2 cores, {TARGET_UTILIZATION:.0%} busy at the peak",
            f"{math.ceil(files_s * m['airflow.cpu_per_file'] / (2 * TARGET_UTILIZATION))}",
        ),
        ("  their good rows, predicted: predictions a day", f"{good_rows:,.0f}"),
        (
            "  cores to predict them at the peak",
            f"{good_rows / DAY * PEAK * m['airflow.cpu_per_1000_predicted'] / 1000:.1f}",
        ),
        growth(good_rows, m["bytes_per_prediction"]),
        ("  Data Docs pages a day", gib(LOADS["raw_files"] * m["docs_bytes_per_file_75"])),
        (
            "  Data Docs index, per batch, with 30 days of pages kept",
            f"{LOADS['raw_files'] * 30 * m['docs_index_s_per_page']:.1f} s",
        ),
    ]
    # A machine sized for its peak hour: 70% busy then, the day's mean a quarter of that.
    one_machine = 2 * TARGET_UTILIZATION * DAY / PEAK
    rows += [
        ("what one 2-core machine takes a day, sized for the peak hour:", ""),
        ("  raw files (75 rows), airflow", f"{one_machine / m['airflow.cpu_per_file']:,.0f}"),
        ("  raw files (75 rows), dagster", f"{one_machine / m['dagster.cpu_per_file']:,.0f}"),
        ("  predictions, single-row", f"{one_machine / m['cpu_per_single']:,.0f}"),
        ("  predictions, in batches", f"{one_machine / m['cpu_per_1000_batch'] * 1000:,.0f}"),
    ]
    return rows


def growth(rows_a_day: float, bytes_per_row: float) -> tuple[str, str]:
    day = rows_a_day * bytes_per_row
    label = f"  database growth a day / in {RETENTION_DAYS} days"
    return label, f"{gib(day)} / {gib(day * RETENTION_DAYS)}"


def gib(size: float) -> str:
    return f"{size / 2**30:.1f} GiB"


def run(env: Environment) -> list[tuple[str, str]]:
    results: list[tuple[str, str]] = []
    if "airflow.cpu_per_file" not in MEASURED:  # `python -m bench capacity` alone
        results += ingestion.run(env) + backlog.run(env)
    small, docs_small = ingestion_work(env, 75)
    large, _ = ingestion_work(env, 1_000)
    per_1000_rows = (large - small) / (1_000 - 75) * 1000
    MEASURED.update(work_per_file_75=small, docs_bytes_per_file_75=docs_small)
    MEASURED.update(predictions(env))
    m = MEASURED
    results += [
        ("ingestion work, per file of 75 rows (machine CPU)", f"{small * 1000:.0f} ms"),
        ("  per file of 1,000 rows", f"{large * 1000:.0f} ms"),
        ("  so per 1,000 more rows", f"{per_1000_rows * 1000:.0f} ms"),
        ("  Data Docs written per file of 75 rows", f"{docs_small / 1024:.0f} KiB"),
        (
            "orchestrated, per file of 75 rows: airflow / dagster (backlog)",
            f"{m['airflow.cpu_per_file'] * 1000:.0f} / {m['dagster.cpu_per_file'] * 1000:.0f} ms",
        ),
        (
            "POST /predict batches, service CPU per 1,000 rows",
            f"{m['cpu_per_1000_batch'] * 1000:.0f} ms",
        ),
        ("  rows written per second", f"{m['batch_rows_per_s']:,.0f}"),
        (
            "single-row POST /predict, service CPU per request",
            f"{m['cpu_per_single'] * 1000:.2f} ms",
        ),
        ("  requests (rows written) per second, 32 clients", f"{m['single_per_s']:,.0f}"),
        (
            "database bytes per stored prediction (table + indexes)",
            f"{m['bytes_per_prediction']:,.0f}",
        ),
        (
            "scheduled predictions, machine CPU per 1,000 rows (backlog, airflow)",
            f"{m['airflow.cpu_per_1000_predicted'] * 1000:.0f} ms",
        ),
    ]
    return results + plan(m)
