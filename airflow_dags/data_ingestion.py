"""Airflow DAG `data_ingestion`: every minute, one raw file through the platform's steps.

Each task is one call into `creditops.pipeline` (imported inside the task, so
parsing this file stays fast); Dagster runs the same functions as assets. The
interval is the setting CREDITOPS_INGESTION_INTERVAL_SECONDS.
"""

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from creditops.dag_arguments import dag_arguments
from creditops.settings import get_settings

ORCHESTRATOR = "airflow"


@dag(
    dag_id="data_ingestion",
    **dag_arguments(get_settings().ingestion_interval_seconds),
    doc_md=__doc__,
)
def data_ingestion():
    @task(task_id="read-data")
    def read_data() -> dict:
        from creditops import pipeline, settings

        claimed = pipeline.read_data(settings.get_settings())
        if claimed is None:  # skips every task of the run
            raise AirflowSkipException("raw-data/ is empty: nothing to ingest")
        return claimed

    @task(task_id="validate-data")
    def validate_data(claimed: dict) -> dict:
        from creditops import pipeline, settings

        return pipeline.validate_data(settings.get_settings(), claimed)

    @task(task_id="save-statistics")
    def save_statistics(claimed: dict, report: dict) -> int:
        from creditops import pipeline, settings

        return pipeline.save_statistics_step(settings.get_settings(), claimed, report, ORCHESTRATOR)

    @task(task_id="send-alerts")
    def send_alerts(claimed: dict, report: dict) -> str:
        from creditops import pipeline, settings

        return pipeline.send_alerts(settings.get_settings(), claimed, report)

    @task(task_id="split-and-save-data")
    def split_and_save_data(claimed: dict, report: dict) -> dict:
        from creditops import pipeline, settings

        return pipeline.split_and_save_data(settings.get_settings(), claimed, report)

    claimed = read_data()
    report = validate_data(claimed)
    save_statistics(claimed, report)
    send_alerts(claimed, report)
    split_and_save_data(claimed, report)


data_ingestion()
