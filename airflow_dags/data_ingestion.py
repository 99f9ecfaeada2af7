"""Airflow DAG `data_ingestion`: every interval, the waiting raw files through the platform's steps.

`read-data` claims up to CREDITOPS_AIRFLOW_BATCHES_PER_RUN batches of
CREDITOPS_INGESTION_BATCH_FILES files (one file when one waits); each later task
is mapped over the batches, CREDITOPS_INGESTION_CONCURRENCY at a time, and does
its step file by file, so every file keeps its own statistics, report and alert.
Each task is one call into `creditops.pipeline` (imported inside the task, so
parsing this file stays fast); Dagster runs the same functions as assets. The
interval is the setting CREDITOPS_INGESTION_INTERVAL_SECONDS.
"""

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from creditops.dag_arguments import dag_arguments
from creditops.settings import get_settings

ORCHESTRATOR = "airflow"
AT_ONCE = get_settings().ingestion_concurrency


@dag(
    dag_id="data_ingestion",
    **dag_arguments(get_settings().ingestion_interval_seconds),
    doc_md=__doc__,
)
def data_ingestion():
    @task(task_id="read-data")
    def read_data() -> list[list[dict]]:
        from creditops import pipeline, settings

        batches = pipeline.read_data_batches(settings.get_settings())
        if not batches:  # skips every task of the run
            raise AirflowSkipException("raw-data/ is empty: nothing to ingest")
        return batches

    @task(task_id="validate-data", max_active_tis_per_dagrun=AT_ONCE)
    def validate_data(batch: list[dict]) -> dict:
        from creditops import pipeline, settings

        return {"files": batch, "reports": pipeline.validate_batch(settings.get_settings(), batch)}

    @task(task_id="save-statistics", max_active_tis_per_dagrun=AT_ONCE)
    def save_statistics(validated: dict) -> list[int]:
        from creditops import pipeline, settings

        return pipeline.for_each_file(
            pipeline.save_statistics_step,
            settings.get_settings(),
            validated["files"],
            validated["reports"],
            orchestrator=ORCHESTRATOR,
        )

    @task(task_id="send-alerts", max_active_tis_per_dagrun=AT_ONCE)
    def send_alerts(validated: dict) -> list[str]:
        from creditops import pipeline, settings

        return pipeline.for_each_file(
            pipeline.send_alerts, settings.get_settings(), validated["files"], validated["reports"]
        )

    @task(task_id="split-and-save-data", max_active_tis_per_dagrun=AT_ONCE)
    def split_and_save_data(validated: dict) -> list[dict]:
        from creditops import pipeline, settings

        return pipeline.for_each_file(
            pipeline.split_and_save_data,
            settings.get_settings(),
            validated["files"],
            validated["reports"],
        )

    validated = validate_data.expand(batch=read_data())
    save_statistics.expand(validated=validated)
    send_alerts.expand(validated=validated)
    split_and_save_data.expand(validated=validated)


data_ingestion()
