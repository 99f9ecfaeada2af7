"""Airflow DAG `model_retraining`: a challenger trained, judged, promoted if better.

`build-training-set` asks the triggers (drift, new outcomes, schedule) and claims
the requested retraining, a person's or a trigger's; with none, every task of the
run is skipped. One retraining runs at a time across Airflow and Dagster. Each
task is one call into `creditops.lifecycle.retraining`; Dagster runs the same
functions as assets. The interval is CREDITOPS_RETRAINING_INTERVAL_SECONDS.
"""

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from creditops.dag_arguments import dag_arguments
from creditops.settings import get_settings

ORCHESTRATOR = "airflow"


@dag(
    dag_id="model_retraining",
    **dag_arguments(
        get_settings().retraining_interval_seconds, get_settings().retraining_concurrency
    ),
    doc_md=__doc__,
)
def model_retraining():
    @task(task_id="build-training-set")
    def build_training_set() -> int:
        from creditops.lifecycle import retraining
        from creditops.settings import get_settings

        settings = get_settings()
        retraining_id = retraining.next_retraining(settings, ORCHESTRATOR)
        if retraining_id is None:  # skips every task of the run
            raise AirflowSkipException("no retraining requested and no trigger fired")
        retraining.build_training_set_step(settings, retraining_id)
        return retraining_id

    @task(task_id="train-challenger")
    def train_challenger(retraining_id: int) -> int:
        from creditops.lifecycle import retraining
        from creditops.settings import get_settings

        retraining.train_challenger_step(get_settings(), retraining_id)
        return retraining_id

    @task(task_id="evaluate-challenger")
    def evaluate_challenger(retraining_id: int) -> int:
        from creditops.lifecycle import retraining
        from creditops.settings import get_settings

        verdict = retraining.evaluate_challenger_step(get_settings(), retraining_id)
        if not verdict["passed"]:  # promote-model is skipped; the reasons are recorded
            failed = [c["detail"] for c in verdict["checks"] if not c["passed"]]
            raise AirflowSkipException("challenger rejected: " + "; ".join(failed))
        return retraining_id

    @task(task_id="promote-model")
    def promote_model(retraining_id: int) -> str | None:
        from creditops.lifecycle import retraining
        from creditops.settings import get_settings

        return retraining.promote_step(get_settings(), retraining_id)

    promote_model(evaluate_challenger(train_challenger(build_training_set())))


model_retraining()
