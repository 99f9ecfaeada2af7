"""the MLflow registry replaces model_versions; retrainings and promotions

Predictions and drift metrics keep naming their model version, now the
registry's number; the versions recorded before are imported into the registry
from their folders by `creditops` at start (lifecycle.legacy), which renames them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(
        "fk_predictions_model_version_model_versions", "predictions", type_="foreignkey"
    )
    op.drop_constraint(
        "fk_drift_metrics_model_version_model_versions", "drift_metrics", type_="foreignkey"
    )
    op.drop_table("model_versions")
    op.create_table(
        "retrainings",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'requested'"), nullable=False),
        sa.Column("orchestrator", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("training_set", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("champion_version", sa.Text(), nullable=True),
        sa.Column("challenger_version", sa.Text(), nullable=True),
        sa.Column("evaluation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "reason IN ('first', 'drift', 'outcomes', 'schedule', 'manual')",
            name=op.f("ck_retrainings_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'running', 'promoted', 'rejected', 'failed')",
            name=op.f("ck_retrainings_status"),
        ),
        sa.CheckConstraint(
            "orchestrator IS NULL OR orchestrator IN ('dagster', 'airflow', 'cli')",
            name=op.f("ck_retrainings_orch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrainings")),
    )
    op.create_index(
        "ix_retrainings_one_active",
        "retrainings",
        [sa.text("(true)")],
        unique=True,
        postgresql_where=sa.text("status IN ('requested', 'running')"),
    )
    op.create_index("ix_retrainings_requested_at", "retrainings", ["requested_at"])
    op.create_table(
        "promotions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column(
            "promoted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("previous_version", sa.Text(), nullable=True),
        sa.Column("promoted_by", sa.Text(), nullable=False),
        sa.Column("retraining_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["retraining_id"],
            ["retrainings.id"],
            name=op.f("fk_promotions_retraining_id_retrainings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )


def downgrade() -> None:
    op.drop_table("promotions")
    op.drop_index("ix_retrainings_requested_at", table_name="retrainings")
    op.drop_index("ix_retrainings_one_active", table_name="retrainings")
    op.drop_table("retrainings")
    # The registry's versions are not copied back: the old table comes back empty,
    # so the foreign keys are not restored over rows it does not list.
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
