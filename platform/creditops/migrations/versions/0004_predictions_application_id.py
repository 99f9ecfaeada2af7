"""application ids on predictions (NULL for the rows stored before), indexed for outcomes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("predictions", sa.Column("application_id", sa.Text(), nullable=True))
    op.create_index(
        "ix_predictions_application_id",
        "predictions",
        ["application_id"],
        unique=False,
        postgresql_where=sa.text("application_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_application_id", table_name="predictions")
    op.drop_column("predictions", "application_id")
