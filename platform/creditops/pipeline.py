"""One function per orchestrator task: what Dagster assets and Airflow tasks call.

Each takes the settings and the previous steps' plain dicts and returns a
plain dict (or None), so both orchestrators pass results the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from . import scheduled
from .alerts import alert_card, deliver, keep
from .db import database_url, engine_for, reporting_outages
from .ingestion import (
    ClaimedFile,
    claim,
    claim_raw_files,
    first_file_with_content,
    release_stale_claims,
    save_statistics,
    split_and_save,
)
from .outcomes import (
    OutcomeReport,
    check_outcome_file,
    release_due_outcomes,
    save_outcome_file,
    set_aside_bad_outcomes,
)
from .settings import Settings
from .validation import ValidationReport, mark_duplicate, validate_files

log = logging.getLogger(__name__)
T = TypeVar("T")


def _claim(settings: Settings, folder: Path, claims_dir: Path, limit: int) -> list[dict]:
    """Put back the claims of runs that died, then claim up to `limit` random settled files."""
    release_stale_claims(claims_dir, folder, timedelta(minutes=settings.claim_timeout_minutes))
    folder.mkdir(parents=True, exist_ok=True)
    claimed = claim_raw_files(
        folder, claims_dir, limit, settle_seconds=settings.raw_file_settle_seconds
    )
    return [file.to_dict() for file in claimed]


def read_data(settings: Settings) -> dict | None:
    """`read-data` for one file: claim one random raw file; None when raw-data/ is empty."""
    return next(iter(_claim(settings, settings.raw_data_dir, settings.claims_dir, 1)), None)


def read_data_batches(settings: Settings) -> list[list[dict]]:
    """`read-data` of an Airflow run: claim up to `airflow_batches_per_run` batches of
    `ingestion_batch_files` raw files (fewer when the backlog is short); [] when none."""
    size = settings.ingestion_batch_files
    claimed = _claim(
        settings,
        settings.raw_data_dir,
        settings.claims_dir,
        size * settings.airflow_batches_per_run,
    )
    return [claimed[i : i + size] for i in range(0, len(claimed), size)]


def release_stale_raw_claims(settings: Settings) -> list[str]:
    """Put back in raw-data/ the raw files whose run died (claimed longer than the timeout)."""
    return release_stale_claims(
        settings.claims_dir,
        settings.raw_data_dir,
        timedelta(minutes=settings.claim_timeout_minutes),
    )


def claim_named(settings: Settings, names: list[str]) -> list[dict | None]:
    """`read-data` of a Dagster run: claim these raw files; None for one another run took."""
    settings.claims_dir.mkdir(parents=True, exist_ok=True)
    claimed = (claim(settings.raw_data_dir / name, settings.claims_dir) for name in names)
    return [file.to_dict() if file else None for file in claimed]


def for_each_file(
    step: Callable[..., T], settings: Settings, *per_file: list, **options
) -> list[T]:
    """A step over a batch of files: one result per file, in order."""
    return [step(settings, *args, **options) for args in zip(*per_file, strict=True)]


def validate_batch(settings: Settings, claimed: list[dict]) -> list[dict]:
    """`validate-data` of a batch: the suite on the claimed files (one run of it for the
    files alike, a Data Docs page each), and a file set aside whole when its content was
    ingested before under another name. One report per file, in order."""
    files = [ClaimedFile.from_dict(file) for file in claimed]
    reports = validate_files(
        [(file.path.read_bytes(), file.name) for file in files], settings.docs_dir
    )
    url = database_url(settings)
    for n, (file, report) in enumerate(zip(files, reports, strict=True)):
        if report.file_error is None and report.n_rows:
            with reporting_outages(url):
                original = first_file_with_content(engine_for(url), file)
            if original != file.name:
                reports[n] = mark_duplicate(report, original)
    return [report.to_dict() for report in reports]


def validate_data(settings: Settings, claimed: dict) -> dict:
    """`validate-data` of one claimed file."""
    return validate_batch(settings, [claimed])[0]


def report_url(settings: Settings, report: ValidationReport) -> str | None:
    """The HTTP address of the report page (served from the reports folder)."""
    if report.report_path is None:
        return None
    relative = report.report_path.relative_to(settings.reports_dir)
    return f"{settings.reports_base_url}/{quote(relative.as_posix())}"


def save_statistics_step(settings: Settings, claimed: dict, report: dict, orchestrator: str) -> int:
    """`save-statistics`: the run row and the problem counts; returns the run id."""
    validation = ValidationReport.from_dict(report)
    url = database_url(settings)
    with reporting_outages(url):
        return save_statistics(
            engine_for(url),
            ClaimedFile.from_dict(claimed),
            validation,
            orchestrator,
            report_url(settings, validation),
        )


def send_alerts(settings: Settings, claimed: dict, report: dict) -> str:
    """`send-alerts`: a Teams card when the file has problems; always kept on disk."""
    validation = ValidationReport.from_dict(report)
    if validation.criticality == "none":
        return "no problems, no alert"
    name = ClaimedFile.from_dict(claimed).name
    message = alert_card(name, validation, report_url(settings, validation))
    kept = keep(message, settings.alerts_dir, name)
    if settings.teams_webhook_url is None:
        log.warning("no Teams webhook configured: alert for %s kept in %s", name, kept)
        return f"kept in {kept} (no webhook configured)"
    deliver(message, settings.teams_webhook_url.get_secret_value())
    return "sent to Teams"


def split_and_save_data(settings: Settings, claimed: dict, report: dict) -> dict:
    """`split-and-save-data`: good rows to good_data/, bad rows to bad_data/."""
    result = split_and_save(
        ClaimedFile.from_dict(claimed),
        ValidationReport.from_dict(report),
        settings.good_data_dir,
        settings.bad_data_dir,
    )
    return {
        "good": str(result.good) if result.good else None,
        "bad": str(result.bad) if result.bad else None,
    }


def ingest_one_file(settings: Settings, orchestrator: str = "cli") -> dict | None:
    """Every step in order, for the command line and tests."""
    claimed = read_data(settings)
    if claimed is None:
        return None
    report = validate_data(settings, claimed)
    run_id = save_statistics_step(settings, claimed, report, orchestrator)
    alert = send_alerts(settings, claimed, report)
    files = split_and_save_data(settings, claimed, report)
    return {"run_id": run_id, "alert": alert, **files, "report": report}


def check_for_new_data(settings: Settings, claimed_by: str) -> list[dict]:
    """`check_for_new_data`: claim the good files no run has taken; [] when none."""
    url = database_url(settings)
    engine = engine_for(url)
    with reporting_outages(url):
        scheduled.release_stale_claims(engine, timedelta(minutes=settings.claim_timeout_minutes))
        fresh = scheduled.new_files(engine, settings.good_data_dir)
        return [f.to_dict() for f in scheduled.claim(engine, fresh, claimed_by)]


def make_predictions(settings: Settings, files: list[dict]) -> dict[str, int]:
    """`make_predictions`: each claimed file's rows to the model service, exactly once."""
    url = database_url(settings)
    with reporting_outages(url):
        return scheduled.predict_files(
            engine_for(url),
            settings.good_data_dir,
            [scheduled.GoodFile(**f) for f in files],
            settings.model_service_url,
            settings.api_key.get_secret_value() if settings.api_key else None,
            settings.max_batch_rows,
        )


def claim_and_predict(settings: Settings, files: list[dict], claimed_by: str) -> dict:
    """Dagster's run: claim the files its sensor saw (another run may have won some), predict."""
    url = database_url(settings)
    with reporting_outages(url):
        won = scheduled.claim(engine_for(url), [scheduled.GoodFile(**f) for f in files], claimed_by)
    predicted = make_predictions(settings, [f.to_dict() for f in won])
    return {"predicted": predicted, "taken by another run": len(files) - len(won)}


def detect_drift_step(settings: Settings) -> list[dict]:
    """Drift of the last window of serving data against the champion's baseline."""
    from .drift import record_drift
    from .lifecycle.registry import Registry

    champion = Registry(settings.tracking_uri).load_alias()
    url = database_url(settings)
    with reporting_outages(url):
        return record_drift(
            engine_for(url),
            champion,
            timedelta(minutes=settings.drift_window_minutes),
            settings.drift_min_samples,
        )


def release_outcomes(settings: Settings) -> list[str]:
    """The pending outcome files whose delay passed and whose rows were predicted, released."""
    url = database_url(settings)
    with reporting_outages(url):
        return release_due_outcomes(
            engine_for(url),
            settings.outcomes_pending_dir,
            settings.outcomes_dir,
            timedelta(seconds=settings.outcome_delay_seconds),
        )


def read_outcomes(settings: Settings) -> dict | None:
    """`read-outcomes`: release the outcome files that are due, then claim one; None if none."""
    release_outcomes(settings)
    claimed = _claim(settings, settings.outcomes_dir, settings.outcome_claims_dir, 1)
    return next(iter(claimed), None)


def validate_outcomes(settings: Settings, claimed: dict) -> dict:
    """`validate-outcomes`: every row's id, status and date, repeats, and ids never predicted."""
    url = database_url(settings)
    with reporting_outages(url):
        report = check_outcome_file(
            engine_for(url), ClaimedFile.from_dict(claimed).path.read_bytes()
        )
    return report.to_dict()


def save_outcomes(settings: Settings, claimed: dict, report: dict, orchestrator: str) -> dict:
    """`save-outcomes`: the valid rows and the run row, once; the rest to outcomes-bad/."""
    file = ClaimedFile.from_dict(claimed)
    checked = OutcomeReport.from_dict(report)
    content = file.path.read_bytes()
    url = database_url(settings)
    with reporting_outages(url):
        saved = save_outcome_file(
            engine_for(url), file.run_key, file.name, content, checked, orchestrator
        )
    set_aside = set_aside_bad_outcomes(content, checked, settings.bad_outcomes_dir, file.name)
    if set_aside:
        problem = checked.file_error or ", ".join(f"{k}: {n}" for k, n in checked.problems.items())
        log.warning("outcomes of %s not saved (%s): see %s", file.name, problem, set_aside)
    file.path.unlink(missing_ok=True)
    return {**saved, "set aside": str(set_aside) if set_aside else None}


def ingest_one_outcome_file(settings: Settings, orchestrator: str = "cli") -> dict | None:
    """The outcome job's steps in order, for the command line and tests."""
    claimed = read_outcomes(settings)
    if claimed is None:
        return None
    report = validate_outcomes(settings, claimed)
    return {**save_outcomes(settings, claimed, report, orchestrator), "report": report}
