"""Dagster definitions: the pipeline's steps as assets, checks and sensors (`workspace.yaml`)."""

from dagster import Definitions, in_process_executor, mem_io_manager

from .ingestion import ingestion_assets, ingestion_job, raw_data_sensor
from .monitoring import drift_job, drift_schedule, feature_drift
from .outcomes import outcome_assets, outcome_job, outcome_sensor
from .predictions import good_data_sensor, prediction_job, scheduled_predictions
from .retraining import credit_risk_dataset, retraining_assets, retraining_job, retraining_sensor

defs = Definitions(
    assets=[
        *ingestion_assets,
        scheduled_predictions,
        feature_drift,
        *outcome_assets,
        credit_risk_dataset,
        *retraining_assets,
    ],
    jobs=[ingestion_job, prediction_job, drift_job, outcome_job, retraining_job],
    sensors=[raw_data_sensor, good_data_sensor, outcome_sensor, retraining_sensor],
    schedules=[drift_schedule],
    # The steps take seconds: one process per run, not one per step, keeps a
    # run short on a small machine. Runs still get a process each (the run
    # launcher), which is where scaling out happens.
    executor=in_process_executor,
    # Steps pass values in memory, private to their run: the default IO manager
    # keeps one file per asset, which two runs at once (a manual one beside the
    # sensor's) would overwrite for each other. A failed run is redone whole
    # once its claim times out; every step is safe to redo.
    resources={"io_manager": mem_io_manager},
)
