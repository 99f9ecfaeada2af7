"""Airflow DAG `scheduled_predictions`: every two minutes, predict newly ingested good files.

With nothing new, `check_for_new_data` raises AirflowSkipException: every task
of the run is skipped (the run itself ends `success`; Airflow 3.3 has no
skipped run state). Each task is one call into `creditops.pipeline`. The
interval is the setting CREDITOPS_PREDICTION_INTERVAL_SECONDS.
"""

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from creditops.dag_arguments import dag_arguments
from creditops.settings import get_settings


@dag(
    dag_id="scheduled_predictions",
    **dag_arguments(
        get_settings().prediction_interval_seconds, get_settings().prediction_concurrency
    ),
    doc_md=__doc__,
)
def scheduled_predictions():
    @task(task_id="check_for_new_data")
    def check_for_new_data(**context) -> list[dict]:
        from creditops import pipeline, settings

        files = pipeline.check_for_new_data(settings.get_settings(), f"airflow:{context['run_id']}")
        if not files:  # skips every task of the run, not only make_predictions
            raise AirflowSkipException("no new files in good_data/")
        return files

    @task(task_id="make_predictions")
    def make_predictions(files: list[dict]) -> dict:
        from creditops import pipeline, settings

        return pipeline.make_predictions(settings.get_settings(), files)

    make_predictions(check_for_new_data())


scheduled_predictions()
