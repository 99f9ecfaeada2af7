"""All configuration, read from the environment (and an optional `.env`) with local defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDITOPS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["local", "production"] = "local"

    # Data: dataset, raw-data/, good_data/, bad_data/, reports/, models/ and the
    # embedded PostgreSQL cluster all live under one root.
    data_root: Path = PROJECT_ROOT / "data"
    dataset_path: Path | None = Field(
        default=None, description="Labelled dataset; default <data_root>/credit_risk.csv."
    )

    # Database: an external server when set, else the embedded cluster.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("CREDITOPS_DATABASE_URL", "DATABASE_URL")
    )
    pg_bin_dir: Path | None = Field(
        default=None, description="Folder holding initdb/pg_ctl; found on the machine when unset."
    )
    pg_port: int = Field(default=54329, description="Preferred port of the embedded cluster.")

    # Model service.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str | None = Field(default=None, description="Default http://<api_host>:<api_port>.")
    api_key: SecretStr | None = Field(default=None, description="Required on writes when set.")
    max_batch_rows: int = 20_000
    reason_count: int = Field(
        default=3, ge=1, le=13, description="Reasons given per prediction (features towards bad)."
    )
    max_body_bytes: int = 32 * 1024 * 1024

    # Ingestion: Data Docs are served from <data_root>/reports at reports_url.
    reports_port: int = 8090
    reports_url: str | None = Field(default=None, description="Default http://127.0.0.1:<port>.")
    teams_webhook_url: SecretStr | None = Field(
        default=None, description="Microsoft Teams Workflows webhook; unset: alerts kept on disk."
    )
    claim_timeout_minutes: float = Field(
        default=10, description="A claimed raw file not finished after this goes back to raw-data/."
    )

    # Webapp and orchestrators.
    webapp_port: int = 8501
    dagster_port: int = 3000
    airflow_port: int = 8080
    orchestrator: Literal["dagster", "airflow", "both"] = Field(
        default="dagster", description="Who runs the schedules; the other is up but paused."
    )
    raw_files_on_first_start: int = Field(
        default=60, description="Files `make run` splits the dataset into when raw-data/ is new."
    )
    raw_files_error_share: float = 0.3
    drift_window_minutes: int = Field(default=30, description="Serving data compared for drift.")
    drift_min_samples: int = Field(default=100, description="Fewer values give no drift verdict.")
    ingestion_interval_seconds: int = Field(
        default=60, ge=1, description="How often to look for raw files to ingest."
    )
    ingestion_batch_files: int = Field(
        default=50,
        ge=1,
        description="Raw files per batch: a Dagster run, an Airflow mapped task instance.",
    )
    ingestion_concurrency: int = Field(
        default=2, ge=1, description="Ingestion batches at once (Dagster runs, Airflow tasks)."
    )
    prediction_concurrency: int = Field(
        default=1, ge=1, description="Prediction runs at once (Dagster runs, Airflow DAG runs)."
    )
    outcome_concurrency: int = Field(
        default=1, ge=1, description="Outcome-ingestion runs at once (likewise)."
    )
    retraining_concurrency: int = Field(
        default=1, ge=1, description="Retraining runs at once (likewise)."
    )
    drift_concurrency: int = Field(default=1, ge=1, description="Drift runs at once (Dagster).")
    airflow_executor: Literal["local", "celery"] = Field(
        default="local",
        description="Airflow's executor; celery: `creditops run` starts Redis and Celery workers.",
    )
    airflow_celery_workers: int = Field(
        default=2, ge=1, description="Celery workers `creditops run` starts (celery executor)."
    )
    airflow_worker_concurrency: int = Field(
        default=2, ge=1, description="Tasks each Celery worker runs at once."
    )
    redis_port: int = Field(default=6379, description="The Celery broker's port (celery executor).")
    airflow_batches_per_run: int = Field(
        default=8,
        ge=1,
        description="Batches one Airflow ingestion run claims (it starts once an interval).",
    )
    prediction_interval_seconds: int = Field(
        default=120, ge=1, description="How often to predict new good files."
    )
    drift_interval_minutes: int = Field(
        default=5, ge=1, le=30, description="How often to compute drift (a divisor of 60)."
    )

    # The local supervisor (`creditops run`): restart back-off, and when to give up.
    restart_max_delay_seconds: float = Field(
        default=30, gt=0, description="Back-off doubles from 1 s up to this."
    )
    restart_max_crashes: int = Field(
        default=5, ge=1, description="Exits within the window after which a service stays down."
    )
    restart_window_seconds: float = Field(default=120, gt=0)
    supervisor_metrics_port: int = Field(
        default=9101, description="The supervisor's Prometheus metrics: services up, restarts."
    )

    # Service metrics: Prometheus scrapes the model service and the supervisor.
    prometheus_port: int = 9090
    prometheus_url: str | None = Field(
        default=None, description="Default http://127.0.0.1:<prometheus_port>."
    )
    prometheus_scrape_seconds: int = Field(
        default=15, ge=1, le=60, description="How often Prometheus scrapes (local runs)."
    )
    raw_file_settle_seconds: float = Field(
        default=5, ge=0, description="A raw file changed more recently is still being written."
    )

    # Outcomes: the labels `split` keeps aside come back after a delay, as in life.
    outcome_delay_seconds: float = Field(
        default=300, ge=0, description="How long after the split an outcome file is released."
    )
    outcome_interval_seconds: int = Field(
        default=60, ge=1, description="How often to ingest an outcome file."
    )

    # Training and the model lifecycle. MLflow is the registry: its server keeps runs
    # and versions in its own database beside ours, artifacts under <data_root>/mlflow.
    random_seed: int = 42
    test_size: float = 0.2
    mlflow_port: int = 5000
    mlflow_tracking_uri: str | None = Field(
        default=None, description="Default http://127.0.0.1:<mlflow_port>."
    )
    model_poll_seconds: float = Field(
        default=5, gt=0, description="How often the model service asks who the champion is."
    )
    promotion_min_auc_gain: float = Field(
        default=0.005, description="ROC AUC a challenger must add to the champion's."
    )
    promotion_max_brier_increase: float = Field(
        default=0.002, ge=0, description="Calibration (Brier score) a challenger may lose."
    )
    fairness_min_ratio: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Lowest approval-rate ratio of a group to the most approved group a "
        "challenger may have (0.8: the four-fifths rule).",
    )
    fairness_max_ratio_drop: float = Field(
        default=0.05, ge=0, description="How much lower than the champion's it may be."
    )
    fairness_min_group_rows: int = Field(
        default=100, ge=1, description="Smaller groups are shown but not judged."
    )
    recent_window_rows: int = Field(
        default=2_000, ge=0, description="Newest labelled rows held out to judge both models."
    )
    recent_window_min_rows: int = Field(
        default=200, ge=1, description="Below this the gate judges on the frozen held-out set."
    )
    retrain_drift_features: int = Field(
        default=3, ge=1, description="K: retrain when K features drift ..."
    )
    retrain_drift_checks: int = Field(
        default=2, ge=1, description="... in M consecutive drift checks."
    )
    retrain_new_outcomes: int = Field(
        default=5_000, ge=1, description="Retrain once this many outcomes came since the last."
    )
    retrain_every_hours: float = Field(
        default=168, gt=0, description="Retrain at least this often."
    )
    retrain_cooldown_minutes: float = Field(
        default=10, ge=0, description="No automatic retraining this soon after the last one."
    )
    retraining_interval_seconds: int = Field(
        default=60, ge=1, description="How often the orchestrators look at the triggers."
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.database_url is None:
                raise ValueError("DATABASE_URL must be set in production")
            if "changeme" in self.database_url:
                raise ValueError("DATABASE_URL still holds the placeholder password 'changeme'")
        return self

    def job_concurrency(self) -> dict[str, int]:
        """Runs of each scheduled job allowed at once, by job (Dagster's run queue)."""
        return {
            "ingestion": self.ingestion_concurrency,
            "prediction": self.prediction_concurrency,
            "outcome": self.outcome_concurrency,
            "retraining": self.retraining_concurrency,
            "drift": self.drift_concurrency,
        }

    @property
    def redis_dir(self) -> Path:
        return self.data_root / "redis"

    @property
    def dataset(self) -> Path:
        return self.dataset_path or self.data_root / "credit_risk.csv"

    @property
    def models_dir(self) -> Path:
        """Where models lived before the registry; read once to import them into it."""
        return self.data_root / "models"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.data_root / "mlflow" / "artifacts"

    @property
    def training_sets_dir(self) -> Path:
        return self.data_root / "training-sets"

    @property
    def tracking_uri(self) -> str:
        return (self.mlflow_tracking_uri or f"http://127.0.0.1:{self.mlflow_port}").rstrip("/")

    @property
    def prometheus_base_url(self) -> str:
        return (self.prometheus_url or f"http://127.0.0.1:{self.prometheus_port}").rstrip("/")

    @property
    def prometheus_dir(self) -> Path:
        return self.data_root / "prometheus"

    @property
    def postgres_dir(self) -> Path:
        return self.data_root / "postgres"

    @property
    def raw_data_dir(self) -> Path:
        return self.data_root / "raw-data"

    @property
    def good_data_dir(self) -> Path:
        return self.data_root / "good_data"

    @property
    def bad_data_dir(self) -> Path:
        return self.data_root / "bad_data"

    @property
    def reports_dir(self) -> Path:
        return self.data_root / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.data_root / "dagster"

    @property
    def airflow_home(self) -> Path:
        return self.data_root / "airflow"

    @property
    def logs_dir(self) -> Path:
        return self.data_root / "logs"

    @property
    def outcomes_pending_dir(self) -> Path:
        """Labels kept aside by `split`, not yet known to anyone."""
        return self.data_root / "outcomes-pending"

    @property
    def outcomes_dir(self) -> Path:
        """Released outcome files, waiting for the outcome-ingestion job."""
        return self.data_root / "outcomes"

    @property
    def outcome_claims_dir(self) -> Path:
        return self.data_root / "outcomes-ingesting"

    @property
    def bad_outcomes_dir(self) -> Path:
        return self.data_root / "outcomes-bad"

    @property
    def claims_dir(self) -> Path:
        return self.data_root / "ingesting"

    @property
    def docs_dir(self) -> Path:
        return self.reports_dir / "data-docs"

    @property
    def alerts_dir(self) -> Path:
        return self.reports_dir / "alerts"

    @property
    def reports_base_url(self) -> str:
        return (self.reports_url or f"http://127.0.0.1:{self.reports_port}").rstrip("/")

    @property
    def model_service_url(self) -> str:
        return (self.api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
