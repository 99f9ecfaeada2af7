"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:21:53.712525
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingestion_runs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("run_key", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("orchestrator", sa.Text(), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_valid_rows", sa.Integer(), nullable=False),
        sa.Column("n_invalid_rows", sa.Integer(), nullable=False),
        sa.Column("criticality", sa.Text(), nullable=False),
        sa.Column("file_error", sa.Text(), nullable=True),
        sa.Column("report_url", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "criticality IN ('none', 'low', 'medium', 'high')",
            name=op.f("ck_ingestion_runs_criticality"),
        ),
        sa.CheckConstraint(
            "orchestrator IN ('dagster', 'airflow', 'cli')",
            name=op.f("ck_ingestion_runs_orchestrator"),
        ),
        sa.CheckConstraint(
            "n_valid_rows + n_invalid_rows = n_rows", name=op.f("ck_ingestion_runs_row_counts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_ingestion_runs_run_key")),
    )
    op.create_index(
        "ix_ingestion_runs_ingested_at", "ingestion_runs", ["ingested_at"], unique=False
    )
    op.create_table(
        "model_versions",
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("roc_auc", sa.Float(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("n_test", sa.Integer(), nullable=False),
        sa.Column("dataset_sha256", sa.Text(), nullable=False),
        sa.Column("artifact_path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_model_versions")),
    )
    op.create_table(
        "prediction_files",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("n_rows", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('claimed', 'predicted', 'failed')", name=op.f("ck_prediction_files_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_files")),
        sa.UniqueConstraint(
            "file_name", "fingerprint", name=op.f("uq_prediction_files_file_name_fingerprint")
        ),
    )
    op.create_table(
        "data_quality_issues",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("ingestion_run_id", sa.BigInteger(), nullable=False),
        sa.Column("error_type", sa.Text(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ingestion_run_id"],
            ["ingestion_runs.id"],
            name=op.f("fk_data_quality_issues_ingestion_run_id_ingestion_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_quality_issues")),
        sa.UniqueConstraint(
            "ingestion_run_id",
            "error_type",
            "column_name",
            name=op.f("uq_data_quality_issues_ingestion_run_id_error_type_column_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_data_quality_issues_error_type", "data_quality_issues", ["error_type"], unique=False
    )
    op.create_table(
        "drift_metrics",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.Column("test", sa.Text(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("psi", sa.Float(), nullable=False),
        sa.Column("n_reference", sa.Integer(), nullable=False),
        sa.Column("n_current", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.CheckConstraint("test IN ('ks', 'chi2')", name=op.f("ck_drift_metrics_test")),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["model_versions.version"],
            name=op.f("fk_drift_metrics_model_version_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_metrics")),
    )
    op.create_index("ix_drift_metrics_computed_at", "drift_metrics", ["computed_at"], unique=False)
    op.create_index(
        "ix_drift_metrics_feature_computed_at",
        "drift_metrics",
        ["feature", "computed_at"],
        unique=False,
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "predicted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
        sa.Column("probability_bad", sa.Float(), nullable=False),
        sa.Column("seniority", sa.BigInteger(), nullable=False),
        sa.Column("home", sa.Text(), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("age", sa.BigInteger(), nullable=False),
        sa.Column("marital", sa.Text(), nullable=True),
        sa.Column("records", sa.Text(), nullable=False),
        sa.Column("job", sa.Text(), nullable=True),
        sa.Column("expenses", sa.BigInteger(), nullable=False),
        sa.Column("income", sa.Float(), nullable=True),
        sa.Column("assets", sa.Float(), nullable=True),
        sa.Column("debt", sa.Float(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("prediction IN ('good', 'bad')", name=op.f("ck_predictions_prediction")),
        sa.CheckConstraint("source IN ('webapp', 'scheduled')", name=op.f("ck_predictions_source")),
        sa.CheckConstraint(
            "probability_bad BETWEEN 0 AND 1", name=op.f("ck_predictions_probability_bad")
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["model_versions.version"],
            name=op.f("fk_predictions_model_version_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
    )
    op.create_index(
        "ix_predictions_predicted_at_id",
        "predictions",
        [sa.literal_column("predicted_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_predictions_source_predicted_at_id",
        "predictions",
        ["source", sa.literal_column("predicted_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_source_predicted_at_id", table_name="predictions")
    op.drop_index("ix_predictions_predicted_at_id", table_name="predictions")
    op.drop_table("predictions")
    op.drop_index("ix_drift_metrics_feature_computed_at", table_name="drift_metrics")
    op.drop_index("ix_drift_metrics_computed_at", table_name="drift_metrics")
    op.drop_table("drift_metrics")
    op.drop_index("ix_data_quality_issues_error_type", table_name="data_quality_issues")
    op.drop_table("data_quality_issues")
    op.drop_table("prediction_files")
    op.drop_table("model_versions")
    op.drop_index("ix_ingestion_runs_ingested_at", table_name="ingestion_runs")
    op.drop_table("ingestion_runs")
