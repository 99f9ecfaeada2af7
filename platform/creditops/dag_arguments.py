"""What the Airflow DAGs in airflow_dags/ share: runs at once as set, no catch-up, one retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def dag_arguments(interval_seconds: int, max_active_runs: int = 1) -> dict:
    """The `@dag` arguments of a creditops DAG run every `interval_seconds`, with at most
    `max_active_runs` runs at once (the job's CREDITOPS_*_CONCURRENCY)."""
    return {
        "schedule": timedelta(seconds=interval_seconds),
        "start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": max_active_runs,
        # One retry: a task killed by Airflow itself (e.g. while it starts up) is redone;
        # claims make a redo safe.
        "default_args": {"retries": 1, "retry_delay": timedelta(seconds=20)},
        "tags": ["creditops"],
    }
