"""What the Airflow DAGs in airflow_dags/ share: run one at a time, no catch-up, one retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def dag_arguments(interval_seconds: int) -> dict:
    """The `@dag` arguments of a creditops DAG run every `interval_seconds`."""
    return {
        "schedule": timedelta(seconds=interval_seconds),
        "start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
        # One retry: a task killed by Airflow itself (e.g. while it starts up) is redone;
        # claims make a redo safe.
        "default_args": {"retries": 1, "retry_delay": timedelta(seconds=20)},
        "tags": ["creditops"],
    }
