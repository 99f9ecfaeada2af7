"""Outcomes: kept aside by split, released after their predictions, ingested exactly once."""

from __future__ import annotations

import threading

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from creditops import pipeline
from creditops.db import outcome_ingestion_runs, outcomes, predictions
from creditops.features import EXAMPLE_APPLICANT, IDENTIFIER
from creditops.settings import Settings
from creditops.splitting import read_raw, split_dataset

from ..conftest import DATASET


@pytest.fixture
def loop_settings(tmp_path, database_url, engine, model_service) -> Settings:
    return Settings(
        data_root=tmp_path / "data",
        dataset_path=DATASET,
        database_url=database_url,
        api_url=model_service,
        raw_file_settle_seconds=0,
        outcome_delay_seconds=0,
    )


def predict(settings: Settings, ids: list[str]) -> None:
    body = {
        "source": "scheduled",
        "applicants": [{IDENTIFIER: i, **EXAMPLE_APPLICANT} for i in ids],
    }
    httpx.post(f"{settings.model_service_url}/predict", json=body).raise_for_status()


def drop_outcome_file(settings: Settings, name: str, text: str) -> None:
    settings.outcomes_dir.mkdir(parents=True, exist_ok=True)
    (settings.outcomes_dir / name).write_text(text)


def stored_outcomes(engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(outcomes.c.application_id, outcomes.c.status, outcomes.c.corrections)
        )
        return {i: (status, corrections) for i, status, corrections in rows}


def drain(settings: Settings, orchestrator: str = "cli") -> list[dict]:
    done = []
    while (result := pipeline.ingest_one_outcome_file(settings, orchestrator)) is not None:
        done.append(result)
    return done


def test_ids_flow_from_raw_file_to_prediction_to_outcome(loop_settings, engine, tmp_path):
    settings = loop_settings
    dataset = tmp_path / "small.csv"
    labelled = pd.read_csv(DATASET).head(90)
    labelled.to_csv(dataset, index=False)
    files = split_dataset(
        dataset, settings.raw_data_dir, 3, outcomes_dir=settings.outcomes_pending_dir
    )
    kept = pd.concat(read_raw(settings.outcomes_pending_dir / f.path.name) for f in files)
    assert list(kept.columns) == [IDENTIFIER, "status", "decided_at"]
    assert sorted(kept["status"]) == sorted(labelled["Status"])  # every label, kept aside

    assert drain(settings) == []  # nothing ingested yet: no outcome may come before its score
    while pipeline.ingest_one_file(settings) is not None:
        pass
    assert drain(settings) == []  # ingested but not predicted yet
    pipeline.make_predictions(settings, pipeline.check_for_new_data(settings, "t"))
    runs = drain(settings)

    assert len(runs) == 3 and sum(r["saved"] for r in runs) == 90
    assert not any(settings.outcomes_pending_dir.iterdir())
    assert not any(settings.outcome_claims_dir.iterdir())
    expected = dict(zip(kept[IDENTIFIER], kept["status"], strict=True))
    assert {i: s for i, (s, _) in stored_outcomes(engine).items()} == expected
    join = select(func.count()).select_from(
        predictions.join(outcomes, outcomes.c.application_id == predictions.c.application_id)
    )
    with engine.connect() as conn:
        assert conn.execute(join).scalar_one() == 90  # every prediction found its outcome


def test_bad_rows_are_counted_reported_and_set_aside_never_crash_the_job(loop_settings, engine):
    settings = loop_settings
    predict(settings, ["a1", "a2", "a3"])
    drop_outcome_file(
        settings,
        "mixed.csv",
        "application_id,status,decided_at\n"
        "a1,bad,2026-11-20T10:00:00Z\n"
        "a2,good,2026-11-20\n"
        "a1,good,2026-11-21T10:00:00Z\n"  # the same id twice in a file: ambiguous
        ",good,2026-11-20T10:00:00Z\n"
        "a3,defaulted,2026-11-20T10:00:00Z\n"
        "a3,bad,yesterday\n"
        "zz9,bad,2026-11-20T10:00:00Z\n",  # no prediction has this id
    )
    (result,) = drain(settings)
    assert (result["saved"], result["invalid"]) == (2, 5)
    assert result["report"]["problems"] == {
        "duplicate_id": 1,
        "missing_id": 1,
        "unknown_status": 1,
        "invalid_date": 1,
        "never_predicted": 1,
    }
    assert stored_outcomes(engine) == {"a1": ("bad", 0), "a2": ("good", 0)}
    set_aside = read_raw(settings.bad_outcomes_dir / "mixed.csv")
    assert list(set_aside[IDENTIFIER].fillna("")) == ["a1", "", "a3", "a3", "zz9"]
    with engine.connect() as conn:
        run = conn.execute(select(outcome_ingestion_runs)).mappings().one()
    assert (run["n_rows"], run["n_saved"], run["n_invalid"]) == (7, 2, 5)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"application_id,status\na1,bad\n", "missing column(s) decided_at"),
        (b"application_id,status,decided_at\n", "header but no rows"),
    ],
)
def test_an_unreadable_file_is_recorded_and_set_aside(loop_settings, engine, content, error):
    settings = loop_settings
    settings.outcomes_dir.mkdir(parents=True)
    (settings.outcomes_dir / "broken.csv").write_bytes(content)
    (result,) = drain(settings)
    assert result["saved"] == 0 and error in result["report"]["file_error"]
    assert (settings.bad_outcomes_dir / "broken.csv").read_bytes() == content
    with engine.connect() as conn:
        assert error in conn.execute(select(outcome_ingestion_runs.c.file_error)).scalar_one()


def test_a_later_outcome_corrects_and_a_repeat_changes_nothing(loop_settings, engine):
    settings = loop_settings
    predict(settings, ["a1", "a2"])
    header = "application_id,status,decided_at\n"
    drop_outcome_file(settings, "first.csv", header + "a1,good,2026-11-01\na2,good,2026-11-01\n")
    drain(settings)
    drop_outcome_file(settings, "second.csv", header + "a1,bad,2026-11-03\na2,good,2026-11-01\n")
    (result,) = drain(settings)
    assert (result["saved"], result["corrected"], result["unchanged"]) == (0, 1, 1)
    assert stored_outcomes(engine) == {"a1": ("bad", 1), "a2": ("good", 0)}


def test_a_redo_after_a_crash_saves_nothing_twice(loop_settings, engine):
    settings = loop_settings
    predict(settings, ["a1", "a2"])
    drop_outcome_file(settings, "f.csv", "application_id,status,decided_at\na1,bad,2026-11-01\n")
    claimed = pipeline.read_outcomes(settings)
    report = pipeline.validate_outcomes(settings, claimed)
    saved = pipeline.save_outcomes(settings, claimed, report, "dagster")
    assert saved["saved"] == 1
    # The run died after its commit, before the claim was removed: the file comes back.
    (settings.outcomes_dir / "f.csv").write_text(
        "application_id,status,decided_at\na1,bad,2026-11-01\n"
    )
    (redo,) = drain(settings, "airflow")
    assert redo["saved before"] is True
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outcome_ingestion_runs)).scalar() == 1


def test_both_orchestrators_at_once_ingest_each_file_exactly_once(loop_settings, engine):
    settings = loop_settings
    ids = [f"b{i:04d}" for i in range(400)]
    predict(settings, ids)
    header = "application_id,status,decided_at\n"
    for f in range(20):
        rows = "".join(f"{i},bad,2026-11-02\n" for i in ids[f * 20 : (f + 1) * 20])
        drop_outcome_file(settings, f"part-{f:02d}.csv", header + rows)
    done: dict[str, list[dict]] = {"dagster": [], "airflow": []}
    workers = [
        threading.Thread(target=lambda o=o: done[o].extend(drain(settings, o)))
        for o in ("dagster", "airflow", "dagster", "airflow")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(done["dagster"]) + len(done["airflow"]) == 20
    with engine.connect() as conn:
        runs = conn.execute(select(outcome_ingestion_runs.c.file_name)).scalars().all()
    assert sorted(runs) == [f"part-{f:02d}.csv" for f in range(20)]  # each once
    assert len(stored_outcomes(engine)) == 400
