"""The ingestion job as assets: one run per claimed raw file, started by a sensor."""

from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
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
from creditops.validation import ValidationReport

GROUP = "ingestion"
ORCHESTRATOR = "dagster"


@asset(group_name=GROUP, output_required=False, description="read-data: claim one random raw file")
def raw_file(context: AssetExecutionContext):
    claimed = pipeline.read_data(get_settings())
    if claimed is None:
        context.log.info("raw-data/ is empty: nothing to ingest")
        return
    yield Output(claimed, metadata={"file": claimed["path"]})


@asset(
    group_name=GROUP,
    description="validate-data: the Great Expectations suite on the claimed file",
    check_specs=[
        AssetCheckSpec("file_is_readable", asset="validation_report"),
        AssetCheckSpec("most_rows_are_valid", asset="validation_report"),
    ],
)
def validation_report(context: AssetExecutionContext, raw_file: dict):
    report = pipeline.validate_data(get_settings(), raw_file)
    validation = ValidationReport.from_dict(report)
    url = pipeline.report_url(get_settings(), validation)
    yield Output(
        report,
        metadata={
            "rows": validation.n_rows,
            "invalid rows": validation.n_invalid_rows,
            "criticality": validation.criticality,
            "report": MetadataValue.url(url) if url else "none",
        },
    )
    yield AssetCheckResult(
        check_name="file_is_readable",
        passed=validation.file_error is None,
        severity=AssetCheckSeverity.ERROR,
        metadata={"file error": validation.file_error or "none"},
    )
    share = validation.n_invalid_rows / validation.n_rows if validation.n_rows else 0.0
    yield AssetCheckResult(
        check_name="most_rows_are_valid",
        passed=share < 0.5,
        severity=AssetCheckSeverity.WARN,
        metadata={"invalid share": share},
    )


@asset(group_name=GROUP, description="save-statistics: the run and its problem counts")
def ingestion_statistics(raw_file: dict, validation_report: dict) -> Output[int]:
    run_id = pipeline.save_statistics_step(
        get_settings(), raw_file, validation_report, ORCHESTRATOR
    )
    return Output(run_id, metadata={"ingestion run id": run_id})


@asset(group_name=GROUP, description="send-alerts: a Teams card when the file has problems")
def data_quality_alert(raw_file: dict, validation_report: dict) -> Output[str]:
    outcome = pipeline.send_alerts(get_settings(), raw_file, validation_report)
    return Output(outcome, metadata={"outcome": outcome})


@asset(group_name=GROUP, description="split-and-save-data: good rows and bad rows apart")
def split_files(raw_file: dict, validation_report: dict) -> Output[dict]:
    written = pipeline.split_and_save_data(get_settings(), raw_file, validation_report)
    return Output(written, metadata={k: v or "none" for k, v in written.items()})


ingestion_assets = [
    raw_file,
    validation_report,
    ingestion_statistics,
    data_quality_alert,
    split_files,
]
ingestion_job = define_asset_job(
    "ingestion_job",
    selection=ingestion_assets,
    description="Ingest one random raw file: validate, record, alert, split.",
)

# Every state before a run ends; STARTING lasts while its process spawns (seconds).
ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def runs_by_default() -> DefaultSensorStatus:
    """Dagster's sensors drive the schedules unless Airflow alone was chosen."""
    running = get_settings().orchestrator in ("dagster", "both")
    return DefaultSensorStatus.RUNNING if running else DefaultSensorStatus.STOPPED


def has_files(folder: Path) -> bool:
    return folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir())


@sensor(
    job=ingestion_job,
    minimum_interval_seconds=get_settings().ingestion_interval_seconds,
    default_status=runs_by_default(),
    description="Every interval: ingest one raw file if raw-data/ has any.",
)
def raw_data_sensor(context: SensorEvaluationContext):
    settings = get_settings()
    if not has_files(settings.raw_data_dir):
        return SkipReason(f"{settings.raw_data_dir} is empty")
    active = context.instance.get_runs_count(
        RunsFilter(job_name=ingestion_job.name, statuses=ACTIVE)
    )
    if active:
        return SkipReason("the previous ingestion run has not finished")
    return RunRequest()
