"""The scheduled prediction job with a real model service and database."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from creditops import pipeline, scheduled
from creditops.db import prediction_files, predictions
from creditops.features import IDENTIFIER
from creditops.scheduled import PredictionRunFailed, new_files
from creditops.settings import Settings
from creditops.splitting import read_raw, split_dataset

from ..conftest import DATASET


@pytest.fixture
def job_settings(tmp_path, database_url, engine, model_service) -> Settings:
    return Settings(
        data_root=tmp_path / "data",
        dataset_path=DATASET,
        database_url=database_url,
        api_url=model_service,
    )


def good_files(settings: Settings, sizes: list[int], start: int = 0) -> dict[str, int]:
    """Write good files as ingestion does (text, label dropped); name -> rows."""
    settings.good_data_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(DATASET).drop(columns="Status")
    written, offset = {}, start
    for i, size in enumerate(sizes):
        name = f"2026010{i}T000000Z-good-{start + i}.csv"
        frame.iloc[offset : offset + size].to_csv(settings.good_data_dir / name, index=False)
        written[name], offset = size, offset + size
    return written


def stored_by_file(engine) -> dict[str, int]:
    query = (
        select(predictions.c.source_file, func.count())
        .where(predictions.c.source == "scheduled")
        .group_by(predictions.c.source_file)
    )
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def test_new_files_are_predicted_exactly_once(job_settings, engine):
    files = good_files(job_settings, [30, 45, 12])
    claimed = pipeline.check_for_new_data(job_settings, "test")
    assert sorted(f["name"] for f in claimed) == sorted(files)
    assert pipeline.make_predictions(job_settings, claimed) == files
    assert stored_by_file(engine) == files
    assert pipeline.check_for_new_data(job_settings, "test") == []  # nothing new any more
    files_before = sorted(p.name for p in job_settings.good_data_dir.iterdir())
    assert files_before == sorted(files)  # never moved, renamed or deleted


def test_only_files_added_since_are_new(job_settings, engine):
    first = good_files(job_settings, [10])
    pipeline.make_predictions(job_settings, pipeline.check_for_new_data(job_settings, "t"))
    second = good_files(job_settings, [7], start=100)
    claimed = pipeline.check_for_new_data(job_settings, "t")
    assert [f["name"] for f in claimed] == list(second)
    pipeline.make_predictions(job_settings, claimed)
    assert stored_by_file(engine) == {**first, **second}


def test_the_stored_rows_are_the_files_rows(job_settings, engine):
    (name,) = good_files(job_settings, [25])
    pipeline.make_predictions(job_settings, pipeline.check_for_new_data(job_settings, "t"))
    with engine.connect() as conn:
        ages = conn.execute(select(predictions.c.age).order_by(predictions.c.id)).scalars().all()
    assert ages == pd.read_csv(job_settings.good_data_dir / name)["Age"].tolist()


def test_model_service_down_loses_nothing_and_the_next_run_catches_up(job_settings, engine):
    files = good_files(job_settings, [20, 15])
    down = job_settings.model_copy(update={"api_url": "http://127.0.0.1:1"})
    claimed = pipeline.check_for_new_data(down, "t")
    with pytest.raises(PredictionRunFailed, match="2 file\\(s\\) released"):
        pipeline.make_predictions(down, claimed)
    assert stored_by_file(engine) == {}
    claimed = pipeline.check_for_new_data(job_settings, "t")  # released: new again
    assert len(claimed) == 2
    pipeline.make_predictions(job_settings, claimed)
    assert stored_by_file(engine) == files


def test_a_lost_response_is_not_predicted_twice(job_settings, engine):
    files = good_files(job_settings, [18])
    claimed = pipeline.check_for_new_data(job_settings, "t")
    pipeline.make_predictions(job_settings, claimed)
    # as if the response had been lost: the ledger still says claimed, long ago
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE prediction_files SET status = 'claimed', "
                "claimed_at = now() - interval '1 hour'"
            )
        )
    claimed = pipeline.check_for_new_data(job_settings, "t")
    assert len(claimed) == 1  # the stale claim was released and taken again
    assert pipeline.make_predictions(job_settings, claimed) == files
    assert stored_by_file(engine) == files  # found stored, not sent again
    with engine.connect() as conn:
        assert conn.execute(select(prediction_files.c.status)).scalars().all() == ["predicted"]


def test_an_unreadable_file_is_marked_failed_not_retried(job_settings, engine):
    job_settings.good_data_dir.mkdir(parents=True)
    (job_settings.good_data_dir / "broken.csv").write_text("Age,Home\nold,castle\n")
    claimed = pipeline.check_for_new_data(job_settings, "t")
    pipeline.make_predictions(job_settings, claimed)
    with engine.connect() as conn:
        row = conn.execute(select(prediction_files)).mappings().one()
    assert row["status"] == "failed" and row["error"]
    assert pipeline.check_for_new_data(job_settings, "t") == []


def test_concurrent_runs_predict_each_row_exactly_once(job_settings, engine):
    files = good_files(job_settings, [10] * 12)
    errors: list[Exception] = []

    def run(who: str) -> None:
        try:
            for _ in range(3):
                pipeline.make_predictions(
                    job_settings, pipeline.check_for_new_data(job_settings, who)
                )
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"runner-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stored_by_file(engine) == files


def test_dagster_claims_only_what_no_one_took(job_settings, engine):
    files = good_files(job_settings, [5, 6])
    seen_by_sensor = [f.to_dict() for f in new_files(engine, job_settings.good_data_dir)]
    assert len(seen_by_sensor) == 2
    # before the Dagster run starts, an Airflow run claims one of the two files
    scheduled.claim(engine, [scheduled.GoodFile(**seen_by_sensor[0])], "airflow:1")
    outcome = pipeline.claim_and_predict(job_settings, seen_by_sensor, "dagster:1")
    assert outcome["taken by another run"] == 1
    second = seen_by_sensor[1]["name"]
    assert outcome["predicted"] == {second: files[second]}


def test_application_ids_flow_from_the_raw_file_to_the_stored_predictions(
    job_settings, engine, tmp_path
):
    settings = job_settings.model_copy(update={"raw_file_settle_seconds": 0})
    dataset = tmp_path / "small.csv"
    pd.read_csv(DATASET).head(60).to_csv(dataset, index=False)
    files = split_dataset(dataset, settings.raw_data_dir, 2)
    delivered = {i for f in files for i in read_raw(f.path)[IDENTIFIER]}
    while pipeline.ingest_one_file(settings) is not None:
        pass
    pipeline.make_predictions(settings, pipeline.check_for_new_data(settings, "t"))
    with engine.connect() as conn:
        stored = conn.execute(select(predictions.c.application_id)).scalars().all()
    good = [i for p in settings.good_data_dir.iterdir() for i in read_raw(p)[IDENTIFIER]]
    assert sorted(stored) == sorted(good) and set(stored) <= delivered and len(stored) > 50
