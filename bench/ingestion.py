"""Ingestion: a 10,000-row file through validate + statistics + split, time per step."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

import pandas as pd

from creditops.data_errors import inject
from creditops.settings import Settings
from creditops.splitting import write_atomically

from .harness import DATASET, MEASURED, Environment, median_ms, timed

ROWS = 10_000


def run(env: Environment) -> list[tuple[str, str]]:
    started = time.perf_counter()
    importlib.import_module("great_expectations")
    gx_import = time.perf_counter() - started
    from creditops import pipeline
    from creditops.validation import validate, validate_files

    settings = Settings(
        data_root=env.data_root, database_url=env.database_url, raw_file_settle_seconds=0
    )
    dataset = pd.read_csv(DATASET).drop(columns="Status")
    copies = [dataset.assign(Expenses=dataset["Expenses"] + k) for k in range(3)]  # distinct rows
    frame = pd.concat(copies, ignore_index=True).sample(ROWS, random_state=2)
    corruption = inject(
        frame, ["out_of_range", "unknown_category", "missing_value"], seed=3, share=0.02
    )
    settings.raw_data_dir.mkdir(parents=True, exist_ok=True)
    # One warm-up file builds the suite and context, as the first run of a process does.
    warm = settings.raw_data_dir / "warm-up.csv"
    write_atomically(warm, corruption)
    validate(warm.read_bytes(), warm.name, settings.docs_dir)
    warm.unlink()

    write_atomically(settings.raw_data_dir / "bench-10k.csv", corruption)
    steps = []

    def step(name, action):
        begun = time.perf_counter()
        value = action()
        steps.append((name, time.perf_counter() - begun))
        return value

    claimed = step("read-data (claim)", lambda: pipeline.read_data(settings))
    report = step(
        "validate-data (GX suite + Data Docs)", lambda: pipeline.validate_data(settings, claimed)
    )
    step("save-statistics", lambda: pipeline.save_statistics_step(settings, claimed, report, "cli"))
    step("split-and-save-data", lambda: pipeline.split_and_save_data(settings, claimed, report))
    total = sum(seconds for _, seconds in steps)
    results = [
        ("import great_expectations (once per process, reported apart)", f"{gx_import:.2f} s")
    ]
    results += [(f"  {name}", f"{seconds * 1000:.0f} ms") for name, seconds in steps]
    results.append((f"{ROWS:,} rows: validate + statistics + split (goal < 3 s)", f"{total:.2f} s"))
    print(f"(invalid rows found: {len(report['invalid_rows'])})", file=sys.stderr)
    small = corruption.frame.head(500).to_csv(index=False).encode()
    alone = {}
    for earlier in (0, 1_440, 10_080):
        if earlier:
            add_history(settings.docs_dir, earlier)
        times = timed(lambda: validate(small, "bench-500.csv", settings.docs_dir), 3)
        alone[earlier] = median_ms(times)
        results.append(
            (
                f"validate 500 rows alone, {earlier:,} earlier validations on disk",
                f"{alone[earlier]:.0f} ms",
            )
        )
    # What each page kept on disk adds to a batch's work (the docs index lists them all).
    MEASURED["docs_index_s_per_page"] = max(0.0, alone[10_080] - alone[0]) / 1000 / 10_080
    size = settings.ingestion_batch_files
    batch = [
        (corruption.frame.sample(500, random_state=n).to_csv(index=False).encode(), f"b{n}.csv")
        for n in range(size)
    ]
    times = timed(lambda: validate_files(batch, settings.docs_dir), 3)
    results.append(
        (
            f"validate 500 rows in a batch of {size} files, per file (goal < 250 ms)",
            f"{median_ms(times) / size:.0f} ms",
        )
    )
    return results


def add_history(docs_dir: Path, total: int) -> None:
    """Add earlier validation pages up to `total`, as links to one real page under other
    file names: a day of one file a minute is 1,440, a week 10,080."""
    validations = docs_dir / "validations" / "applicants"
    page = next(validations.glob("bench-500.csv/*/*.html"))
    existing = sum(1 for _ in validations.glob("history-*"))
    for n in range(existing, total):
        folder = validations / f"history-{n:05d}.csv" / page.parent.name
        folder.mkdir(parents=True)
        os.link(page, folder / page.name)
