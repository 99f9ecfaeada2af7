"""The Dagster definitions: they load, the job materialises in-process, the sensor decides."""

from __future__ import annotations

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from sqlalchemy import select

from creditops.db import data_quality_issues, ingestion_runs
from creditops.settings import get_settings
from creditops.splitting import split_dataset

from ..conftest import DATASET


def test_the_definitions_load():
    from creditops.definitions import defs

    job = defs.resolve_job_def("ingestion_job")
    assert {node.name for node in job.graph.node_defs} == {
        "raw_file",
        "validation_report",
        "ingestion_statistics",
        "data_quality_alert",
        "split_files",
    }


def test_the_job_materialises_every_asset_and_runs_the_checks(platform_env, engine, instance):
    from creditops.definitions import defs

    split_dataset(DATASET, platform_env.raw_data_dir, 1, error_share=1.0, seed=9)
    result = defs.resolve_job_def("ingestion_job").execute_in_process(instance=instance)
    assert result.success
    materialised = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialised == {
        "raw_file",
        "validation_report",
        "ingestion_statistics",
        "data_quality_alert",
        "split_files",
    }
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert checks == {"file_is_readable", "most_rows_are_valid"}
    with engine.connect() as conn:
        run = conn.execute(select(ingestion_runs)).mappings().one()
        assert conn.execute(select(data_quality_issues)).all()
    assert run["orchestrator"] == "dagster" and run["criticality"] != "none"


def test_with_nothing_to_ingest_the_job_does_nothing(platform_env, instance):
    from creditops.definitions import defs

    result = defs.resolve_job_def("ingestion_job").execute_in_process(instance=instance)
    assert result.success and result.get_asset_materialization_events() == []


def test_the_sensor_skips_an_empty_folder_and_requests_a_run_otherwise(platform_env, instance):
    from creditops.definitions.ingestion import raw_data_sensor

    skipped = raw_data_sensor(build_sensor_context(instance=instance))
    assert isinstance(skipped, SkipReason) and "empty" in skipped.skip_message
    split_dataset(DATASET, platform_env.raw_data_dir, 2)
    assert isinstance(raw_data_sensor(build_sensor_context(instance=instance)), RunRequest)


@pytest.mark.parametrize("status", [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED])
def test_the_sensor_waits_for_the_previous_run(platform_env, instance: DagsterInstance, status):
    from creditops.definitions import defs
    from creditops.definitions.ingestion import raw_data_sensor

    split_dataset(DATASET, platform_env.raw_data_dir, 2)
    job = defs.resolve_job_def("ingestion_job")
    instance.create_run_for_job(job, status=status)
    skipped = raw_data_sensor(build_sensor_context(instance=instance))
    assert isinstance(skipped, SkipReason) and "not finished" in skipped.skip_message


def test_the_prediction_sensor_skips_with_a_reason_when_nothing_is_new(platform_env, instance):
    from creditops.definitions.predictions import good_data_sensor

    skipped = good_data_sensor(build_sensor_context(instance=instance))
    assert isinstance(skipped, SkipReason) and "no new files" in skipped.skip_message


def test_the_prediction_job_predicts_the_new_files_once(
    platform_env, instance, engine, monkeypatch, model_service
):
    import pandas as pd
    from sqlalchemy import func

    from creditops.db import predictions
    from creditops.definitions import defs
    from creditops.definitions.predictions import good_data_sensor

    monkeypatch.setenv("CREDITOPS_API_URL", model_service)
    get_settings.cache_clear()
    platform_env.good_data_dir.mkdir(parents=True)
    pd.read_csv(DATASET).drop(columns="Status").head(30).to_csv(
        platform_env.good_data_dir / "g.csv", index=False
    )
    request = good_data_sensor(build_sensor_context(instance=instance))
    assert isinstance(request, RunRequest) and request.run_key
    again = good_data_sensor(build_sensor_context(instance=instance))
    assert again.run_key == request.run_key  # a retried tick asks for the same run
    job = defs.resolve_job_def("prediction_job")
    result = job.execute_in_process(run_config=request.run_config, instance=instance)
    assert result.success
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(predictions)).scalar_one() == 30
    assert isinstance(good_data_sensor(build_sensor_context(instance=instance)), SkipReason)


def test_the_drift_job_records_drift_of_stored_predictions(
    platform_env, instance, engine, recorded_model, monkeypatch
):
    import pandas as pd

    from creditops.db import drift_metrics
    from creditops.definitions import defs
    from creditops.predictions import PredictionRequest, score_and_store

    artifact = recorded_model  # the registry's champion, whose baseline drift compares with
    frame = pd.read_csv(DATASET).drop(columns="Status").head(300)
    rows = frame.assign(Age=(frame["Age"] + 25).clip(upper=100))
    rows = rows.astype(object).where(rows.notna(), None).to_dict("records")
    score_and_store(engine, artifact, [PredictionRequest(rows, "scheduled", "s.csv")])
    result = defs.resolve_job_def("drift_job").execute_in_process(instance=instance)
    assert result.success
    with engine.connect() as conn:
        flagged = (
            conn.execute(select(drift_metrics.c.feature).where(drift_metrics.c.drifted))
            .scalars()
            .all()
        )
    assert flagged == ["Age"]
