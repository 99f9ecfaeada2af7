"""Airflow DAG `outcome_ingestion`: how loans ended, one outcome file per run.

`read-outcomes` releases the outcome files that are due (their applications
were predicted and the delay passed) and claims one; with none, every task of
the run is skipped. Each task is one call into `creditops.pipeline`; Dagster
runs the same functions as assets. The interval is the setting
CREDITOPS_OUTCOME_INTERVAL_SECONDS.
"""

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from creditops.dag_arguments import dag_arguments
from creditops.settings import get_settings

ORCHESTRATOR = "airflow"


@dag(
    dag_id="outcome_ingestion",
    **dag_arguments(get_settings().outcome_interval_seconds, get_settings().outcome_concurrency),
    doc_md=__doc__,
)
def outcome_ingestion():
    @task(task_id="read-outcomes")
    def read_outcomes() -> dict:
        from creditops import pipeline, settings

        claimed = pipeline.read_outcomes(settings.get_settings())
        if claimed is None:  # skips every task of the run
            raise AirflowSkipException("outcomes/ is empty: nothing to ingest")
        return claimed

    @task(task_id="validate-outcomes")
    def validate_outcomes(claimed: dict) -> dict:
        from creditops import pipeline, settings

        return pipeline.validate_outcomes(settings.get_settings(), claimed)

    @task(task_id="save-outcomes")
    def save_outcomes(claimed: dict, report: dict) -> dict:
        from creditops import pipeline, settings

        return pipeline.save_outcomes(settings.get_settings(), claimed, report, ORCHESTRATOR)

    claimed = read_outcomes()
    save_outcomes(claimed, validate_outcomes(claimed))


outcome_ingestion()
