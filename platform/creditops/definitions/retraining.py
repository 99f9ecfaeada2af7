"""Retraining as assets: training set -> challenger -> evaluation (the gate) -> served model.

The sensor claims a requested retraining (one at a time, across orchestrators) and
starts a run tagged with its id; each asset is one step of `lifecycle.retraining`.
The gate's checks (`gate.CHECKS`) are blocking checks of `challenger_evaluation`: when one
fails, `served_model` is not materialized and the champion stays.

The loop closes outside the graph: the champion serves the predictions that feed
drift and outcomes upstream of `training_set`. Dagster's asset graph has no cycles,
so `served_model` is drawn at the end, not before `scheduled_predictions`.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Output,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    sensor,
)

from creditops.lifecycle import gate
from creditops.settings import get_settings
from creditops.stack import queue_tag

from .ingestion import runs_by_default
from .monitoring import feature_drift
from .outcomes import saved_outcomes

GROUP = "retraining"
TAG = "creditops/retraining"
ORCHESTRATOR = "dagster"

credit_risk_dataset = AssetSpec(
    "credit_risk_dataset",
    group_name=GROUP,
    description="The labelled dataset (data/credit_risk.csv); its frozen held-out part "
    "judges every model",
)


def _steps():
    """`lifecycle.retraining`, imported on first use: it loads MLflow and scikit-learn
    (~2.5 s), which every other run of this code location would pay for."""
    from creditops.lifecycle import retraining

    return retraining


def _retraining_id(context: AssetExecutionContext) -> int:
    return int(context.run.tags[TAG])


@asset(
    group_name=GROUP,
    deps=[credit_risk_dataset, saved_outcomes, feature_drift],
    description="build-training-set: the dataset plus outcomes joined with their "
    "predictions' features, fingerprinted; the newest labels held out",
)
def training_set(context: AssetExecutionContext) -> Output[dict]:
    built = _steps().build_training_set_step(get_settings(), _retraining_id(context))
    return Output(
        built,
        metadata={
            "fingerprint": built["fingerprint"],
            "rows": built["n_rows"],
            "from outcomes": built["n_outcome_rows"],
            "recent window (held out)": built["n_recent_rows"],
        },
    )


@asset(group_name=GROUP, description="train-challenger: fit, register in MLflow, alias challenger")
def challenger_model(context: AssetExecutionContext, training_set: dict) -> Output[str]:
    version = _steps().train_challenger_step(get_settings(), _retraining_id(context))
    return Output(version, metadata={"registry version": version})


@asset(
    group_name=GROUP,
    description="evaluate-challenger: champion and challenger on the same held-out rows; "
    "the gate's verdict",
    check_specs=[
        AssetCheckSpec(name, asset="challenger_evaluation", blocking=True, description=description)
        for name, description in gate.CHECKS.items()
    ],
)
def challenger_evaluation(context: AssetExecutionContext, challenger_model: str):
    verdict = _steps().evaluate_challenger_step(get_settings(), _retraining_id(context))
    yield Output(
        verdict,
        metadata={
            "challenger": verdict["challenger"],
            "champion": verdict["champion"] or "none",
            "judged on": verdict["judged_on"],
            "passed": verdict["passed"],
        },
    )
    for check in verdict["checks"]:
        yield AssetCheckResult(
            check_name=check["name"],
            passed=check["passed"],
            severity=AssetCheckSeverity.ERROR,
            description=check["detail"],
            metadata={"detail": check["detail"]},
        )


@asset(group_name=GROUP, description="promote-model: the challenger becomes champion")
def served_model(context: AssetExecutionContext, challenger_evaluation: dict) -> Output[str]:
    version = _steps().promote_step(get_settings(), _retraining_id(context))
    return Output(version, metadata={"champion": version})


retraining_assets = [training_set, challenger_model, challenger_evaluation, served_model]
retraining_job = define_asset_job(
    "retraining_job",
    tags=queue_tag("retraining"),
    selection=retraining_assets,
    description="Train a challenger, judge it against the champion, promote it if better.",
)


@sensor(
    job=retraining_job,
    minimum_interval_seconds=get_settings().retraining_interval_seconds,
    default_status=runs_by_default(),
    description="Triggers (drift, new outcomes, schedule) and people's requests: one "
    "retraining at a time",
)
def retraining_sensor(context: SensorEvaluationContext):
    retraining_id = _steps().next_retraining(get_settings(), ORCHESTRATOR)
    if retraining_id is None:
        return SkipReason("no retraining requested and no trigger fired")
    return RunRequest(run_key=f"retraining-{retraining_id}", tags={TAG: str(retraining_id)})
