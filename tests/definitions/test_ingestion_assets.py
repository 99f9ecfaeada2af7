"""The Dagster definitions: they load, the job materialises in-process, the sensor decides."""

from __future__ import annotations

from dagster import (
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


def _request_and_run(instance):
    """One sensor tick, then each run it asks for, in process, as the daemon would."""
    from creditops.definitions import defs
    from creditops.definitions.ingestion import raw_data_sensor

    ticked = raw_data_sensor(build_sensor_context(instance=instance))
    for request in ticked.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    job = defs.resolve_job_def("ingestion_job")
    results = [
        job.execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags
        )
        for request in ticked.run_requests
    ]
    return ticked, results


def test_one_file_is_one_partition_run_that_materialises_every_asset_and_runs_the_checks(
    platform_env, engine, instance
):
    (file,) = split_dataset(DATASET, platform_env.raw_data_dir, 1, error_share=1.0, seed=9)
    ticked, (result,) = _request_and_run(instance)
    assert ticked.run_requests[0].partition_key == file.path.name
    assert instance.get_dynamic_partitions("raw_files") == [file.path.name]
    assert result.success
    materialised = {
        (e.asset_key.path[-1], e.partition) for e in result.get_asset_materialization_events()
    }
    assert materialised == {
        (name, file.path.name)
        for name in (
            "raw_file",
            "validation_report",
            "ingestion_statistics",
            "data_quality_alert",
            "split_files",
        )
    }
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert checks == {"file_is_readable", "most_rows_are_valid"}
    with engine.connect() as conn:
        run = conn.execute(select(ingestion_runs)).mappings().one()
        assert conn.execute(select(data_quality_issues)).all()
    assert run["orchestrator"] == "dagster" and run["criticality"] != "none"


def test_a_backlog_becomes_runs_over_ranges_of_file_partitions_each_file_its_own_results(
    platform_env, engine, instance, monkeypatch
):
    files = split_dataset(DATASET, platform_env.raw_data_dir, 7, error_share=0.5, seed=4)
    monkeypatch.setenv("CREDITOPS_INGESTION_BATCH_FILES", "3")
    get_settings.cache_clear()
    ticked, results = _request_and_run(instance)
    assert [r.tags.get("files") for r in ticked.run_requests] == ["3", "3", "1"]
    assert sorted(instance.get_dynamic_partitions("raw_files")) == sorted(
        f.path.name for f in files
    )
    assert all(r.success for r in results)
    reports = {}
    for result in results:
        for event in result.get_asset_materialization_events():
            if event.asset_key.path[-1] == "validation_report":
                reports[event.partition] = event.materialization.metadata
    assert sorted(reports) == sorted(f.path.name for f in files)  # one per file, each once
    with engine.connect() as conn:
        runs = {r["file_name"]: r for r in conn.execute(select(ingestion_runs)).mappings()}
    assert sorted(runs) == sorted(reports)
    for name, metadata in reports.items():  # each partition carries its own file's figures
        assert metadata["rows"].value == runs[name]["n_rows"]
        assert metadata["criticality"].value == runs[name]["criticality"]
        if runs[name]["report_url"]:
            assert metadata["report"].value == runs[name]["report_url"]
    alerts = list(platform_env.alerts_dir.iterdir())
    assert len(alerts) == sum(r["criticality"] != "none" for r in runs.values())
    assert not list(platform_env.raw_data_dir.iterdir())
    assert not list(platform_env.claims_dir.iterdir())


def test_a_file_another_run_took_is_said_so_on_its_partition(platform_env, instance):
    from creditops import pipeline

    split_dataset(DATASET, platform_env.raw_data_dir, 2, seed=5)
    from creditops.definitions.ingestion import raw_data_sensor

    ticked = raw_data_sensor(build_sensor_context(instance=instance))
    for request in ticked.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    taken = pipeline.read_data(platform_env)  # Airflow, say, took one first
    (request,) = ticked.run_requests
    from creditops.definitions import defs

    result = defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=instance, tags=request.tags
    )
    assert result.success
    reports = {
        e.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "validation_report"
    }
    taken_name = taken["path"].rsplit("/", 1)[-1]
    assert "another run took it" in reports[taken_name]["file"].value
    (other,) = set(reports) - {taken_name}
    assert reports[other]["rows"].value > 0


def test_the_sensor_skips_an_empty_folder_and_requests_each_file_version_once(
    platform_env, instance
):
    from creditops.definitions.ingestion import raw_data_sensor

    skipped = raw_data_sensor(build_sensor_context(instance=instance))
    assert isinstance(skipped, SkipReason) and "no settled file" in skipped.skip_message
    split_dataset(DATASET, platform_env.raw_data_dir, 2)
    context = build_sensor_context(instance=instance)
    first = raw_data_sensor(context)
    assert len(first.run_requests) == 1 and first.cursor
    again = raw_data_sensor(build_sensor_context(instance=instance, cursor=first.cursor))
    assert isinstance(again, SkipReason) and "have runs already" in again.skip_message


def test_partition_keys_are_file_names_made_safe_for_dagster():
    from creditops.definitions.ingestion import batches, partition_key

    assert partition_key("2026-11-24 applicants.csv") == "2026-11-24 applicants.csv"
    assert partition_key("a...csv") == "a%2E%2E%2Ecsv"
    assert partition_key("tab\there.csv") == "tab%09here.csv"
    position = {k: i for i, k in enumerate("abcdefg")}
    assert batches(["a", "b", "c", "e", "f", "g"], position, 2) == [
        ["a", "b"],
        ["c"],
        ["e", "f"],
        ["g"],
    ]


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
