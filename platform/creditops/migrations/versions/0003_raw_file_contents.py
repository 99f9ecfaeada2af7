"""remember the content of every ingested raw file, to recognise copies under new names

Files ingested before this revision are not known to it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "raw_file_contents",
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_raw_file_contents")),
    )


def downgrade() -> None:
    op.drop_table("raw_file_contents")
