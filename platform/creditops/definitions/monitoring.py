"""Drift of serving data against the training baseline, every `drift_interval_minutes`."""

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from creditops import pipeline
from creditops.settings import get_settings
from creditops.stack import queue_tag

from .predictions import scheduled_predictions


@asset(
    group_name="monitoring",
    deps=[scheduled_predictions],
    description="Per feature: KS or chi-square, PSI, drifted flag, stored in drift_metrics",
)
def feature_drift() -> MaterializeResult:
    results = pipeline.detect_drift_step(get_settings())
    return MaterializeResult(
        metadata={
            "features compared": len(results),
            "drifted": ", ".join(r["feature"] for r in results if r["drifted"]) or "none",
            "max PSI": max((r["psi"] for r in results), default=0.0),
        }
    )


drift_job = define_asset_job(
    "drift_job", selection=AssetSelection.assets(feature_drift), tags=queue_tag("drift")
)
drift_schedule = ScheduleDefinition(
    job=drift_job,
    cron_schedule=f"*/{get_settings().drift_interval_minutes} * * * *",
    default_status=(
        DefaultScheduleStatus.RUNNING
        if get_settings().orchestrator in ("dagster", "both")
        else DefaultScheduleStatus.STOPPED
    ),
)
