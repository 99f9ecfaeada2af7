"""The outcome-ingestion job as assets: one run per claimed outcome file, started by a sensor."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Output,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from creditops import pipeline
from creditops.settings import get_settings
from creditops.stack import queue_tag

from .ingestion import ACTIVE, ORCHESTRATOR, has_files, runs_by_default
from .predictions import scheduled_predictions

GROUP = "outcomes"


@asset(
    group_name=GROUP,
    output_required=False,
    deps=[scheduled_predictions],  # outcomes are released after their predictions
    description="read-outcomes: release the outcome files that are due, claim one",
)
def outcome_file(context: AssetExecutionContext):
    claimed = pipeline.read_outcomes(get_settings())
    if claimed is None:
        context.log.info("outcomes/ is empty: nothing to ingest")
        return
    yield Output(claimed, metadata={"file": claimed["path"]})


@asset(
    group_name=GROUP,
    description="validate-outcomes: ids, statuses, dates, repeats, ids never predicted",
    check_specs=[AssetCheckSpec("outcomes_are_usable", asset="outcome_report")],
)
def outcome_report(outcome_file: dict):
    report = pipeline.validate_outcomes(get_settings(), outcome_file)
    yield Output(
        report,
        metadata={
            "rows": report["n_rows"],
            "invalid rows": len(report["invalid_rows"]),
            "problems": ", ".join(f"{k}: {n}" for k, n in report["problems"].items()) or "none",
        },
    )
    yield AssetCheckResult(
        check_name="outcomes_are_usable",
        passed=report["file_error"] is None and not report["invalid_rows"],
        severity=AssetCheckSeverity.WARN,
        metadata={"file error": report["file_error"] or "none", "examples": report["examples"]},
    )


@asset(group_name=GROUP, description="save-outcomes: new and corrected outcomes, exactly once")
def saved_outcomes(outcome_file: dict, outcome_report: dict) -> Output[dict]:
    saved = pipeline.save_outcomes(get_settings(), outcome_file, outcome_report, ORCHESTRATOR)
    return Output(saved, metadata={k: str(v) for k, v in saved.items()})


outcome_assets = [outcome_file, outcome_report, saved_outcomes]
outcome_job = define_asset_job(
    "outcome_job",
    tags=queue_tag("outcome"),
    selection=outcome_assets,
    description="Ingest one outcome file: release, claim, check, save.",
)


@sensor(
    job=outcome_job,
    minimum_interval_seconds=get_settings().outcome_interval_seconds,
    default_status=runs_by_default(),
    description="Every interval: release due outcome files, then ingest one if any waits.",
)
def outcome_sensor(context: SensorEvaluationContext):
    settings = get_settings()
    pipeline.release_outcomes(settings)
    if not has_files(settings.outcomes_dir):
        return SkipReason(f"{settings.outcomes_dir} is empty")
    if context.instance.get_runs_count(RunsFilter(job_name=outcome_job.name, statuses=ACTIVE)):
        return SkipReason("the previous outcome run has not finished")
    return RunRequest()
