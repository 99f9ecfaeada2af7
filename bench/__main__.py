"""Run the benchmarks and print a table to compare with docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
import time

from . import api, backlog, capacity, ingestion, lifecycle, monitoring, outcomes
from .harness import environment

SUITES = {
    "api": api.run,
    "ingestion": ingestion.run,
    "monitoring": monitoring.run,
    "outcomes": outcomes.run,
    "lifecycle": lifecycle.run,
    "backlog": backlog.run,
    "capacity": capacity.run,  # last: it uses the backlog's measurements
}


def main(names: list[str]) -> None:
    chosen = names or list(SUITES)
    print(
        f"# creditops benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with environment() as env:
        for name in chosen:
            print(f"\n## {name}")
            for label, value in SUITES[name](env):
                print(f"{label:<66} {value:>12}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
