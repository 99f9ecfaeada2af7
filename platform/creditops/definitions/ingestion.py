"""The ingestion job as assets partitioned by raw file, started by a sensor.

Each raw file is a dynamic partition (its name), so the asset catalog shows
every file's history: its counts, criticality and report link. A run takes a
range of partitions, up to CREDITOPS_INGESTION_BATCH_FILES files, so that a
backlog of a thousand files is a few dozen runs, CREDITOPS_INGESTION_CONCURRENCY
at a time (the run queue's limit on the `creditops/queue` tag). A failed run
leaves its files claimed until the claim times out; they go back to raw-data/
and the sensor requests them again.
"""

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    DagsterRunStatus,
    DefaultSensorStatus,
    DynamicPartitionsDefinition,
    MetadataValue,
    Output,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from creditops import pipeline
from creditops.ingestion import settled_files
from creditops.settings import Settings, get_settings
from creditops.stack import queue_tag
from creditops.validation import ValidationReport

GROUP = "ingestion"
ORCHESTRATOR = "dagster"
RAW_FILES = DynamicPartitionsDefinition(name="raw_files")
# Dagster's tags for one run over a range of partitions (documented with backfills).
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
NOT_CLAIMED = {"file": "not in raw-data/ when the run started: another run took it"}


def partition_key(name: str) -> str:
    """A file's partition: its name, with what Dagster refuses in a key (`...`, control
    characters) percent-encoded."""
    return re.sub(
        r"\.\.\.|[\x00-\x1f]", lambda m: "".join(f"%{ord(c):02X}" for c in m.group()), name
    )


def listed(names: Iterable[str]) -> str:
    return ", ".join(names) or "none"


def report_metadata(settings: Settings, validation: ValidationReport) -> dict:
    """What the catalog shows on a file's partition of the validation report."""
    url = pipeline.report_url(settings, validation)
    return {
        "rows": validation.n_rows,
        "invalid rows": validation.n_invalid_rows,
        "criticality": validation.criticality,
        "report": MetadataValue.url(url) if url else "none",
    }


@asset(
    group_name=GROUP,
    partitions_def=RAW_FILES,
    description="read-data: claim the run's raw files (one partition each)",
)
def raw_file(context: AssetExecutionContext) -> Output[dict]:
    settings = get_settings()
    waiting = {partition_key(p.name): p.name for p in settled_files(settings.raw_data_dir)}
    present = [key for key in context.partition_keys if key in waiting]
    claimed = dict(
        zip(present, pipeline.claim_named(settings, [waiting[k] for k in present]), strict=True)
    )
    claimed = {key: claimed.get(key) for key in context.partition_keys}
    taken = [key for key, file in claimed.items() if file is None]
    return Output(claimed, metadata={"claimed": len(claimed) - len(taken), "taken": listed(taken)})


@asset(
    group_name=GROUP,
    partitions_def=RAW_FILES,
    description="validate-data: the Great Expectations suite on each claimed file",
    check_specs=[
        AssetCheckSpec("file_is_readable", asset="validation_report"),
        AssetCheckSpec("most_rows_are_valid", asset="validation_report"),
    ],
)
def validation_report(context: AssetExecutionContext, raw_file: dict):
    settings = get_settings()
    files = {key: file for key, file in raw_file.items() if file}
    reports = dict(zip(files, pipeline.validate_batch(settings, list(files.values())), strict=True))
    validations = {key: ValidationReport.from_dict(report) for key, report in reports.items()}
    # Each file's figures on its own partition (a file another run took says so). Only
    # this asset does it: Dagster reads the partition list back for each call, so the
    # other steps summarize their batch on the run's materialization.
    for key in context.partition_keys:
        validation = validations.get(key)
        metadata = report_metadata(settings, validation) if validation else NOT_CLAIMED
        context.add_asset_metadata(metadata, partition_key=key)
    yield Output(reports)
    unreadable = [v.file_name for v in validations.values() if v.file_error]
    yield AssetCheckResult(
        check_name="file_is_readable",
        passed=not unreadable,
        severity=AssetCheckSeverity.ERROR,
        metadata={"files": len(validations), "unreadable": listed(unreadable)},
    )
    mostly_invalid = [
        v.file_name for v in validations.values() if v.n_rows and v.n_invalid_rows * 2 >= v.n_rows
    ]
    yield AssetCheckResult(
        check_name="most_rows_are_valid",
        passed=not mostly_invalid,
        severity=AssetCheckSeverity.WARN,
        metadata={"half their rows invalid or more": listed(mostly_invalid)},
    )


def each_file(
    step: Callable,
    raw_file: dict,
    reports: dict,
    summarize: Callable[[dict], dict],
    **options,
) -> Output[dict]:
    """A step on each validated file of the run; one result per file, summarized."""
    keys = list(reports)
    results = pipeline.for_each_file(
        step, get_settings(), [raw_file[k] for k in keys], list(reports.values()), **options
    )
    outcome = dict(zip(keys, results, strict=True))
    return Output(outcome, metadata=summarize(outcome))


@asset(
    group_name=GROUP,
    partitions_def=RAW_FILES,
    description="save-statistics: each file's run row and problem counts",
)
def ingestion_statistics(raw_file: dict, validation_report: dict) -> Output[dict]:
    return each_file(
        pipeline.save_statistics_step,
        raw_file,
        validation_report,
        lambda run_ids: {"ingestion run ids": MetadataValue.json(run_ids)},
        orchestrator=ORCHESTRATOR,
    )


@asset(
    group_name=GROUP,
    partitions_def=RAW_FILES,
    description="send-alerts: a Teams card for each file with problems",
)
def data_quality_alert(raw_file: dict, validation_report: dict) -> Output[dict]:
    return each_file(
        pipeline.send_alerts,
        raw_file,
        validation_report,
        lambda outcomes: dict(Counter(outcomes.values())),
    )


@asset(
    group_name=GROUP,
    partitions_def=RAW_FILES,
    description="split-and-save-data: each file's good rows and bad rows apart",
)
def split_files(raw_file: dict, validation_report: dict) -> Output[dict]:
    return each_file(
        pipeline.split_and_save_data,
        raw_file,
        validation_report,
        lambda written: {
            part: sum(1 for w in written.values() if w[part]) for part in ("good", "bad")
        },
    )


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
    tags=queue_tag("ingestion"),
    description="Ingest a batch of raw files: validate, record, alert, split, file by file.",
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


def batches(keys: list[str], position: dict[str, int], size: int) -> list[list[str]]:
    """The keys in runs of neighbouring partitions (a run takes a range), `size` at most."""
    runs: list[list[str]] = []
    for key in sorted(keys, key=position.__getitem__):
        last = runs[-1] if runs else None
        if last and len(last) < size and position[key] == position[last[-1]] + 1:
            last.append(key)
        else:
            runs.append([key])
    return runs


def run_request(keys: list[str]) -> RunRequest:
    if len(keys) == 1:
        return RunRequest(partition_key=keys[0], tags={"files": "1"})
    return RunRequest(tags={RANGE_START: keys[0], RANGE_END: keys[-1], "files": str(len(keys))})


def versions(folder: Path, settle_seconds: float) -> dict[str, str]:
    """Partition key -> the file's version (name and change time) of each settled file."""
    found = {}
    for path in settled_files(folder, settle_seconds):
        try:
            found[partition_key(path.name)] = f"{path.name}@{path.stat().st_mtime_ns}"
        except FileNotFoundError:  # taken meanwhile
            continue
    return found


@sensor(
    job=ingestion_job,
    minimum_interval_seconds=get_settings().ingestion_interval_seconds,
    default_status=runs_by_default(),
    description="Every interval: each new raw file a partition, and runs for them in batches.",
)
def raw_data_sensor(context: SensorEvaluationContext):
    """The cursor keeps the file versions requested and when: a version is requested once,
    or again when its run died before claiming it (older than the claim timeout)."""
    settings = get_settings()
    pipeline.release_stale_raw_claims(settings)
    waiting = versions(settings.raw_data_dir, settings.raw_file_settle_seconds)
    if not waiting:
        return SkipReason(f"{settings.raw_data_dir} has no settled file")
    now, timeout = time.time(), settings.claim_timeout_minutes * 60
    current = set(waiting.values())
    requested = {
        version: at
        for version, at in json.loads(context.cursor or "{}").items()
        if version in current and now - at < timeout
    }
    new = [key for key, version in waiting.items() if version not in requested]
    if not new:
        return SkipReason(f"the {len(waiting)} waiting files have runs already")
    known = context.instance.get_dynamic_partitions(RAW_FILES.name)
    added = sorted(set(new) - set(known))
    position = {key: i for i, key in enumerate([*known, *added])}
    requested |= {waiting[key]: now for key in new}
    return SensorResult(
        run_requests=[
            run_request(keys) for keys in batches(new, position, settings.ingestion_batch_files)
        ],
        dynamic_partitions_requests=[RAW_FILES.build_add_request(added)] if added else [],
        cursor=json.dumps(requested),
    )
