"""The Dagster outcome job: it materialises in-process, its sensor releases and decides."""

from __future__ import annotations

import httpx
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context, instance_for_test
from sqlalchemy import select

from creditops.db import outcome_ingestion_runs
from creditops.features import EXAMPLE_APPLICANT


@pytest.fixture
def platform_env(platform_env, model_service):
    """Two applications predicted, whose outcomes the tests bring."""
    body = {
        "source": "scheduled",
        "applicants": [{"application_id": i, **EXAMPLE_APPLICANT} for i in ("a1", "a2")],
    }
    httpx.post(f"{model_service}/predict", json=body).raise_for_status()
    return platform_env


def test_the_outcome_job_reads_validates_and_saves(platform_env, engine):
    from creditops.definitions import defs

    platform_env.outcomes_dir.mkdir(parents=True)
    (platform_env.outcomes_dir / "labels.csv").write_text(
        "application_id,status,decided_at\na1,bad,2026-11-20\na2,maybe,2026-11-20\n"
    )
    with instance_for_test() as instance:
        result = defs.resolve_job_def("outcome_job").execute_in_process(instance=instance)
    assert result.success
    materialised = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialised == {"outcome_file", "outcome_report", "saved_outcomes"}
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "outcomes_are_usable" and not check.passed  # the unknown status
    with engine.connect() as conn:
        run = conn.execute(select(outcome_ingestion_runs)).mappings().one()
    assert run["orchestrator"] == "dagster" and run["problems"] == {"unknown_status": 1}


def test_the_sensor_skips_until_a_file_waits(platform_env):
    from creditops.definitions.outcomes import outcome_sensor

    with instance_for_test() as instance:
        context = build_sensor_context(instance=instance)
        assert isinstance(outcome_sensor(context), SkipReason)
        platform_env.outcomes_dir.mkdir(parents=True)
        (platform_env.outcomes_dir / "labels.csv").write_text("application_id,status,decided_at\n")
        assert isinstance(outcome_sensor(context), RunRequest)
