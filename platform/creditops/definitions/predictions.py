"""The scheduled prediction job: a sensor that skips when good_data/ has nothing new."""

import hashlib

from dagster import (
    AssetExecutionContext,
    Config,
    MaterializeResult,
    RunConfig,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from creditops import pipeline, scheduled
from creditops.db import database_url, engine_for
from creditops.settings import get_settings
from creditops.stack import queue_tag

from .ingestion import runs_by_default, split_files


class PredictionFiles(Config):
    """The good files this run was requested for (claimed when the run starts)."""

    files: list[dict]


@asset(
    group_name="predictions",
    deps=[split_files],
    description="make_predictions: new good files' rows to the model service, exactly once",
)
def scheduled_predictions(context: AssetExecutionContext, config: PredictionFiles):
    outcome = pipeline.claim_and_predict(
        get_settings(), config.files, f"dagster:{context.run.run_id}"
    )
    return MaterializeResult(
        metadata={
            "files": len(outcome["predicted"]),
            "rows predicted": sum(outcome["predicted"].values()),
            "taken by another run first": outcome["taken by another run"],
        }
    )


prediction_job = define_asset_job(
    "prediction_job",
    tags=queue_tag("prediction"),
    selection=[scheduled_predictions],
    description="Predict the rows of good files no run has taken yet.",
)


@sensor(
    job=prediction_job,
    minimum_interval_seconds=get_settings().prediction_interval_seconds,
    default_status=runs_by_default(),
    description="check_for_new_data: a run for the new good files, or skipped with the reason.",
)
def good_data_sensor(context: SensorEvaluationContext):
    settings = get_settings()
    fresh = scheduled.new_files(engine_for(database_url(settings)), settings.good_data_dir)
    if not fresh:
        return SkipReason(f"no new files in {settings.good_data_dir}")
    files = [f.to_dict() for f in fresh]
    key = hashlib.sha256("".join(f.name + f.fingerprint for f in fresh).encode()).hexdigest()
    return RunRequest(
        run_key=key[:32],  # a retried tick never requests the same files twice
        run_config=RunConfig(ops={"scheduled_predictions": PredictionFiles(files=files)}),
        tags={"files": str(len(files))},
    )
