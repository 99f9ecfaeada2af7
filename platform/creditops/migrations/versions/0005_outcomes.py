"""outcomes of applications, and the runs that ingested outcome files

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("application_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("corrections", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("status IN ('good', 'bad')", name=op.f("ck_outcomes_status")),
        sa.CheckConstraint("source IN ('file', 'api')", name=op.f("ck_outcomes_source")),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_outcomes")),
    )
    op.create_table(
        "outcome_ingestion_runs",
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
        sa.Column("n_saved", sa.Integer(), nullable=False),
        sa.Column("n_corrected", sa.Integer(), nullable=False),
        sa.Column("n_unchanged", sa.Integer(), nullable=False),
        sa.Column("n_invalid", sa.Integer(), nullable=False),
        sa.Column("problems", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("file_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "orchestrator IN ('dagster', 'airflow', 'cli')",
            name=op.f("ck_outcome_ingestion_runs_orchestrator"),
        ),
        sa.CheckConstraint(
            "n_saved + n_corrected + n_unchanged + n_invalid = n_rows",
            name=op.f("ck_outcome_ingestion_runs_row_counts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_ingestion_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_outcome_ingestion_runs_run_key")),
    )


def downgrade() -> None:
    op.drop_table("outcome_ingestion_runs")
    op.drop_table("outcomes")
