"""A review's subject fits GitHub's longest names: `owner/name@ref` is up to 39 + 1 + 100 + 1 +
255 characters, more than VARCHAR(300), which PostgreSQL enforced by refusing the review.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SUBJECT_CHARS = 396  # app.ledger.SUBJECT_CHARS when this revision was written


def upgrade() -> None:
    # Batch mode: SQLite cannot alter a column, so the table is copied (lengths are not
    # enforced there, but its schema then says what PostgreSQL's does).
    with op.batch_alter_table("reviews") as batch:
        batch.alter_column(
            "subject",
            existing_type=sa.String(300),
            type_=sa.String(SUBJECT_CHARS),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.alter_column(
            "subject",
            existing_type=sa.String(SUBJECT_CHARS),
            type_=sa.String(300),
            existing_nullable=False,
        )
