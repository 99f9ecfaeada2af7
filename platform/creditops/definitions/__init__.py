"""Dagster definitions: the pipeline's steps as assets, checks and sensors (`workspace.yaml`)."""

from dagster import Definitions

from .ingestion import ingestion_assets, ingestion_job, raw_data_sensor
from .monitoring import drift_job, drift_schedule, feature_drift
from .predictions import good_data_sensor, prediction_job, scheduled_predictions

defs = Definitions(
    assets=[*ingestion_assets, scheduled_predictions, feature_drift],
    jobs=[ingestion_job, prediction_job, drift_job],
    sensors=[raw_data_sensor, good_data_sensor],
    schedules=[drift_schedule],
)
