"""reason codes stored with each prediction (NULL for rows scored before them)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: PostgreSQL adds it without rewriting the table.
    op.add_column("predictions", sa.Column("reasons", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("predictions", "reasons")
