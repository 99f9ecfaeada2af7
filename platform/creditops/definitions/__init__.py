"""Dagster definitions: the pipeline's steps as assets, checks and sensors (`workspace.yaml`)."""

from dagster import Definitions

from .ingestion import ingestion_assets, ingestion_job, raw_data_sensor

defs = Definitions(
    assets=ingestion_assets,
    jobs=[ingestion_job],
    sensors=[raw_data_sensor],
)
