"""The ingestion job's steps with real files, PostgreSQL, a local Teams receiver."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import select

from creditops import validation
from creditops.alerts import AlertNotDelivered
from creditops.data_errors import ERROR_KINDS, FILE_KINDS, FRAME_KINDS, inject
from creditops.db import data_quality_issues, ingestion_runs
from creditops.errors import DatabaseUnavailable
from creditops.pipeline import (
    ingest_one_file,
    read_data,
    save_statistics_step,
    send_alerts,
    split_and_save_data,
    validate_data,
)
from creditops.settings import Settings
from creditops.splitting import read_raw, split_dataset, write_atomically

from ..conftest import DATASET


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    frame = pd.read_csv(DATASET).drop(columns="Status").sample(120, random_state=8)
    return frame.reset_index(drop=True)


def raw_file(settings: Settings, corruption, name: str = "20260101T000000Z-1of1.csv") -> Path:
    settings.raw_data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.raw_data_dir / name
    write_atomically(path, corruption)
    return path


def stored_issues(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(select(data_quality_issues)).mappings().all()
    return {(r["error_type"], r["column_name"]): r["n_rows"] for r in rows}


def expected_issues(corruption) -> dict:
    expected = {}
    for error in corruption.errors:
        if error.kind in FILE_KINDS:
            expected[(error.kind, None)] = 1
        elif error.kind == "duplicate_row":
            expected[(error.kind, None)] = len(error.rows)
        else:
            expected[(error.kind, ",".join(error.columns))] = len(error.rows)
    return expected


@pytest.mark.parametrize("kind", [*FRAME_KINDS, *FILE_KINDS])
def test_statistics_match_what_was_injected(ingest_settings, engine, clean, kind):
    corruption = inject(clean, [kind], seed=13, share=0.1)
    raw_file(ingest_settings, corruption)
    outcome = ingest_one_file(ingest_settings)
    assert stored_issues(engine) == expected_issues(corruption)
    with engine.connect() as conn:
        run = conn.execute(select(ingestion_runs)).mappings().one()
    invalidated = {
        r for e in corruption.errors if ERROR_KINDS[e.kind].invalidates_rows for r in e.rows
    }
    assert run["n_rows"] == len(corruption.frame)
    assert run["n_invalid_rows"] == (0 if kind in FILE_KINDS else len(invalidated))
    assert run["criticality"] != "none" and run["orchestrator"] == "cli"
    assert outcome["alert"] == "sent to Teams"


def test_several_kinds_in_one_file_are_each_counted(ingest_settings, engine, clean):
    kinds = ["wrong_type", "not_a_number", "impossible_combination", "duplicate_row"]
    corruption = inject(clean, kinds, seed=21, share=0.05)
    raw_file(ingest_settings, corruption)
    ingest_one_file(ingest_settings)
    assert stored_issues(engine) == expected_issues(corruption)


def test_the_split_is_exact_and_the_raw_file_is_gone(ingest_settings, clean):
    corruption = inject(clean, ["out_of_range", "unknown_category"], seed=3, share=0.1)
    path = raw_file(ingest_settings, corruption)
    as_written = read_raw(path).fillna("")
    outcome = ingest_one_file(ingest_settings)
    good = read_raw(Path(outcome["good"])).fillna("")
    bad = read_raw(Path(outcome["bad"])).fillna("")
    bad_rows = sorted({r for e in corruption.errors for r in e.rows})
    pd.testing.assert_frame_equal(good, as_written.drop(index=bad_rows).reset_index(drop=True))
    pd.testing.assert_frame_equal(
        bad.drop(columns="problems"), as_written.loc[bad_rows].reset_index(drop=True)
    )
    assert bad["problems"].str.contains("out_of_range|unknown_category").all()
    assert not path.exists() and not list(ingest_settings.claims_dir.iterdir())


def test_a_clean_file_goes_to_good_data_whole_and_raises_no_alert(ingest_settings, teams, clean):
    raw_file(ingest_settings, inject(clean, [], seed=1))
    outcome = ingest_one_file(ingest_settings)
    assert outcome["bad"] is None and len(read_raw(Path(outcome["good"]))) == len(clean)
    assert outcome["alert"] == "no problems, no alert" and teams.received == []


def test_an_all_bad_file_goes_to_bad_data_whole(ingest_settings, clean):
    raw_file(ingest_settings, inject(clean, ["missing_column"], seed=1))
    outcome = ingest_one_file(ingest_settings)
    assert outcome["good"] is None and len(read_raw(Path(outcome["bad"]))) == len(clean)


def test_the_alert_has_criticality_summary_and_a_link_that_opens(ingest_settings, teams, clean):
    raw_file(ingest_settings, inject(clean, ["out_of_range"], seed=2, share=0.6))
    ingest_one_file(ingest_settings)
    (message,) = teams.received
    card = message["attachments"][0]["content"]
    texts = json.dumps(card["body"])
    assert "HIGH" in texts and '"Criticality", "value": "high"' in texts
    assert "out_of_range in" in texts
    (action,) = card["actions"]
    page = httpx.get(action["url"])
    assert page.status_code == 200 and "Expectation" in page.text


def test_an_earlier_report_still_opens_after_later_runs(ingest_settings, teams, clean):
    """Each orchestrator run is a new process with a new GX context (cache cleared here)."""
    for name in ("20260101T000000Z-1of2.csv", "20260101T000000Z-2of2.csv"):
        raw_file(ingest_settings, inject(clean, ["missing_value"], seed=3), name)
        validation._validator.cache_clear()
        ingest_one_file(ingest_settings)
    links = [m["attachments"][0]["content"]["actions"][0]["url"] for m in teams.received]
    assert len(links) == 2
    for link in links:
        assert httpx.get(link).status_code == 200
    index = httpx.get(f"{ingest_settings.reports_base_url}/data-docs/index.html").text
    assert "1of2.csv" in index and "2of2.csv" in index


def test_the_docs_index_lists_the_newest_validations_first(tmp_path):
    runs = [("a.csv", "20260101T000001.000000Z"), ("b.csv", "20260101T000003.0Z")]
    for age, (name, run_time) in enumerate(reversed(runs)):
        folder = tmp_path / "validations" / "applicants" / name / run_time
        folder.mkdir(parents=True)
        (folder / "page.html").write_text("report")
        os.utime(folder.parent, (1e9 - age, 1e9 - age))  # the newest file's folder changed last
    text = validation.write_docs_index(tmp_path, limit=1).read_text()
    assert "b.csv" in text and "2026-01-01 00:00:03" in text and "a.csv" not in text
    assert "newest 1 validation reports (2 files validated in all)" in text


def test_nothing_to_ingest_is_none(ingest_settings):
    assert ingest_one_file(ingest_settings) is None


def test_teams_down_is_retried_then_reported_and_the_alert_kept(ingest_settings, teams, clean):
    raw_file(ingest_settings, inject(clean, ["missing_value"], seed=2))
    claimed = read_data(ingest_settings)
    report = validate_data(ingest_settings, claimed)
    teams.fail_next = 1
    assert send_alerts(ingest_settings, claimed, report) == "sent to Teams"  # one retry
    teams.fail_next = 10
    with pytest.raises(AlertNotDelivered, match="after 3 tries: HTTP 500"):
        send_alerts(ingest_settings, claimed, report)
    assert list(ingest_settings.alerts_dir.glob("*.json"))
    # the data is unaffected: the split still happens
    assert split_and_save_data(ingest_settings, claimed, report)["bad"]


def test_database_down_keeps_the_file_and_a_rerun_finishes(ingest_settings, engine, clean):
    path = raw_file(ingest_settings, inject(clean, ["wrong_type"], seed=2))
    claimed = read_data(ingest_settings)
    report = validate_data(ingest_settings, claimed)
    down = ingest_settings.model_copy(
        update={"database_url": "postgresql+psycopg://u:p@127.0.0.1:1/none"}
    )
    with pytest.raises(DatabaseUnavailable):
        save_statistics_step(down, claimed, report, "cli")
    assert Path(claimed["path"]).exists()  # still claimed, not lost
    # the run died here; once its claim times out the file is back in raw-data/
    later = ingest_settings.model_copy(update={"claim_timeout_minutes": 0})
    outcome = ingest_one_file(later)
    assert outcome is not None and not path.exists()
    with engine.connect() as conn:
        assert len(conn.execute(select(ingestion_runs)).all()) == 1


def test_a_run_killed_before_removing_its_claim_is_finished_once(ingest_settings, engine, clean):
    raw_file(ingest_settings, inject(clean, ["out_of_range"], seed=4))
    claimed = read_data(ingest_settings)
    content = Path(claimed["path"]).read_bytes()
    report = validate_data(ingest_settings, claimed)
    save_statistics_step(ingest_settings, claimed, report, "cli")
    first = split_and_save_data(ingest_settings, claimed, report)
    Path(claimed["path"]).write_bytes(content)  # killed before the claim was removed
    later = ingest_settings.model_copy(update={"claim_timeout_minutes": 0})
    second = ingest_one_file(later)  # the claim goes back to raw-data/ and is redone
    assert {k: second[k] for k in ("good", "bad")} == first
    with engine.connect() as conn:
        assert len(conn.execute(select(ingestion_runs)).all()) == 1
        assert len(conn.execute(select(data_quality_issues)).all()) == 1
    assert ingest_one_file(later) is None


def _ingest_all(values: dict, orchestrator: str) -> int:
    settings = Settings(**values)
    done = 0
    while ingest_one_file(settings, orchestrator) is not None:
        done += 1
    return done


def test_two_orchestrators_at_once_process_every_file_exactly_once(ingest_settings, engine):
    files = split_dataset(DATASET, ingest_settings.raw_data_dir, 8, error_share=0.5)
    payload = {
        "data_root": ingest_settings.data_root,
        "dataset_path": DATASET,
        "database_url": ingest_settings.database_url,
        "teams_webhook_url": ingest_settings.teams_webhook_url.get_secret_value(),
        "reports_url": ingest_settings.reports_url,
        "raw_file_settle_seconds": 0,
    }
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        counts = pool.starmap(_ingest_all, [(payload, "dagster"), (payload, "airflow")])
    assert sum(counts) == 8
    with engine.connect() as conn:
        names = conn.execute(select(ingestion_runs.c.file_name)).scalars().all()
    assert sorted(names) == sorted(f.path.name for f in files)
    readable = [f for f in files if not any(e.kind in FILE_KINDS for e in f.errors)]
    for f in readable:  # every row once, in good_data/ or bad_data/
        parts = (
            ingest_settings.good_data_dir / f.path.name,
            ingest_settings.bad_data_dir / f.path.name,
        )
        assert sum(len(read_raw(p)) for p in parts if p.exists()) == f.rows
    assert not list(ingest_settings.raw_data_dir.iterdir())


def test_a_file_still_being_written_is_left_until_it_settles(ingest_settings, clean):
    waiting = ingest_settings.model_copy(update={"raw_file_settle_seconds": 30})
    path = raw_file(ingest_settings, inject(clean, [], seed=1))
    assert ingest_one_file(waiting) is None and path.exists()  # changed just now
    settled = path.stat().st_mtime - 60
    os.utime(path, (settled, settled))
    assert ingest_one_file(waiting)["good"] is not None


def test_a_file_with_a_byte_order_mark_and_windows_line_endings_is_clean(ingest_settings, clean):
    text = clean.to_csv(index=False, lineterminator="\r\n")
    path = ingest_settings.raw_data_dir / "from excel.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    outcome = ingest_one_file(ingest_settings)
    assert outcome["report"]["issues"] == [] and outcome["bad"] is None
    assert len(read_raw(Path(outcome["good"]))) == len(clean)


def test_a_name_with_spaces_and_accents_gets_a_report_link_that_opens(
    ingest_settings, teams, clean
):
    raw_file(ingest_settings, inject(clean, ["missing_value"], seed=5), "agence Créteil 01 #2.csv")
    outcome = ingest_one_file(ingest_settings)
    assert Path(outcome["bad"]).name == "agence Créteil 01 #2.csv"
    (message,) = teams.received
    (action,) = message["attachments"][0]["content"]["actions"]
    assert " " not in action["url"] and "#" not in action["url"]
    page = httpx.get(action["url"])
    assert page.status_code == 200 and "Expectation" in page.text


def test_a_copy_under_a_new_name_is_reported_and_set_aside_whole(
    ingest_settings, engine, teams, clean
):
    corruption = inject(clean, ["missing_value"], seed=6)
    raw_file(ingest_settings, corruption, "branch-7.csv")
    first = ingest_one_file(ingest_settings)
    delivered = raw_file(ingest_settings, corruption, "branch-7 (copy).csv").read_bytes()
    copy = ingest_one_file(ingest_settings)
    assert copy["good"] is None  # never predicted twice
    assert Path(copy["bad"]).read_bytes() == delivered  # kept as it came
    assert len(read_raw(Path(copy["bad"]))) == len(clean)
    with engine.connect() as conn:
        runs = {r["file_name"]: r for r in conn.execute(select(ingestion_runs)).mappings()}
    duplicate = runs["branch-7 (copy).csv"]
    assert duplicate["file_error"] == "duplicate_file" and duplicate["criticality"] == "medium"
    assert duplicate["n_invalid_rows"] == duplicate["n_rows"] == len(clean)
    assert runs["branch-7.csv"]["file_error"] is None and first["good"] is not None
    card = json.dumps(teams.received[-1]["attachments"][0]["content"]["body"])
    assert "duplicate_file" in card and "the same content as branch-7.csv" in card
    # The original itself, delivered again under its own name, is a rerun, not a copy.
    raw_file(ingest_settings, corruption, "branch-7.csv")
    again = ingest_one_file(ingest_settings)
    assert again["report"]["file_error"] is None and again["good"] == first["good"]


def test_a_semicolon_separated_file_is_a_wrong_delimiter_said_in_words(
    ingest_settings, engine, teams, clean
):
    raw_file(ingest_settings, inject(clean, ["wrong_delimiter"], seed=1), "excel-fr.csv")
    outcome = ingest_one_file(ingest_settings)
    report = outcome["report"]
    assert report["file_error"] == "wrong_delimiter" and report["issues"] == [
        ["wrong_delimiter", None, 1]
    ]
    assert "separated by semicolons (';'), not commas" in report["file_error_detail"]
    card = json.dumps(teams.received[0]["attachments"][0]["content"]["body"])
    assert "HIGH" in card and "separated by semicolons" in card
    assert "missing_column" not in card  # not reported as 13 missing columns
    page = Path(report["report_path"]).read_text()
    assert "What failed in excel-fr.csv" in page and "separated by semicolons" in page


def test_an_unknown_column_is_reported_low_and_dropped_and_the_rows_stay_valid(
    ingest_settings, engine, teams, clean
):
    corruption = inject(clean, ["unexpected_column"], seed=1)
    raw_file(ingest_settings, corruption, "with-comments.csv")
    outcome = ingest_one_file(ingest_settings)
    assert stored_issues(engine) == {("unexpected_column", "Branch_comment"): len(clean)}
    with engine.connect() as conn:
        run = conn.execute(select(ingestion_runs)).mappings().one()
    assert run["criticality"] == "low" and run["n_invalid_rows"] == 0
    good = read_raw(Path(outcome["good"]))
    assert len(good) == len(clean) and "Branch_comment" not in good.columns  # predicted without it
    assert outcome["bad"] is None
    card = json.dumps(teams.received[0]["attachments"][0]["content"]["body"])
    assert "unexpected_column: Branch_comment (dropped; the rows stay valid)" in card
    page = Path(outcome["report"]["report_path"]).read_text()
    assert "Branch_comment" in page.split("What failed in", 1)[1][:3000]
