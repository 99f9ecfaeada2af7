"""index predictions by source file, for the prediction job's exactly-once check

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_predictions_source_file",
        "predictions",
        ["source_file"],
        unique=False,
        postgresql_where=sa.text("source_file IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_source_file", table_name="predictions")
