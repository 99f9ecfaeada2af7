"""Retraining as Dagster assets: the sensor claims, the run trains, the blocking checks gate."""

from __future__ import annotations

from dagster import AssetKey, DagsterInstance, RunRequest, SkipReason, build_sensor_context
from sqlalchemy import select

from creditops.db import retrainings
from creditops.lifecycle import gate, retraining
from creditops.lifecycle.registry import CHAMPION


def run_requested(instance: DagsterInstance):
    from creditops.definitions import defs
    from creditops.definitions.retraining import retraining_sensor

    request = retraining_sensor(build_sensor_context(instance=instance))
    assert isinstance(request, RunRequest)
    job = defs.resolve_job_def("retraining_job")
    return job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)


def test_the_lineage_runs_from_data_and_monitoring_to_the_served_model():
    from creditops.definitions import defs

    graph = defs.resolve_asset_graph()
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert parents["training_set"] == {"credit_risk_dataset", "saved_outcomes", "feature_drift"}
    assert parents["challenger_model"] == {"training_set"}
    assert parents["challenger_evaluation"] == {"challenger_model"}
    assert parents["served_model"] == {"challenger_evaluation"}


def test_the_sensor_skips_when_nothing_asks(platform_env, instance, recorded_model):
    from creditops.definitions.retraining import retraining_sensor

    assert isinstance(retraining_sensor(build_sensor_context(instance=instance)), SkipReason)


def test_a_better_challenger_is_served_through_the_assets(
    platform_env, instance, engine, registry, recorded_model, weak_champion
):
    requested = retraining.request_retraining(engine, "manual", "test", "pytest")
    result = run_requested(instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert (
        {e.check_name for e in evaluations if e.passed}
        == set(gate.CHECKS)
        == {
            "challenger_beats_champion",
            "calibration_not_worse",
            "every_feature_has_importance",
            "approval_rates_fair",
        }
    )
    served = instance.get_latest_materialization_event(AssetKey("served_model"))
    assert served is not None
    with engine.connect() as conn:
        row = conn.execute(select(retrainings)).mappings().one()
    assert row["id"] == requested["id"] and row["orchestrator"] == "dagster"
    assert row["status"] == "promoted"
    assert registry.alias_version(CHAMPION) == row["challenger_version"]


def test_a_failed_blocking_check_keeps_the_champion(
    platform_env, instance, engine, registry, recorded_model
):
    retraining.request_retraining(engine, "manual", "test", "pytest")
    result = run_requested(instance)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["challenger_beats_champion"]
    assert instance.get_latest_materialization_event(AssetKey("served_model")) is None
    with engine.connect() as conn:
        assert conn.execute(select(retrainings.c.status)).scalar_one() == "rejected"
    assert registry.alias_version(CHAMPION) == recorded_model.version
