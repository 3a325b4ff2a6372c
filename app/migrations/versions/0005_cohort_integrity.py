"""Integrity across the cohort: each submission's code fingerprints (for similarity without a
pairwise scan) and, per review, the history signals and top similarity matches (JSON).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fingerprints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.id"), nullable=False,
                  index=True),
        sa.Column("assignment", sa.String(128), nullable=False, index=True),
        sa.Column("repo", sa.String(256), nullable=False),
        sa.Column("hash", sa.BigInteger, nullable=False, index=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("start_line", sa.Integer, nullable=False),
        sa.Column("end_line", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("history", sa.Text))
        batch.add_column(sa.Column("similarity", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("similarity")
        batch.drop_column("history")
    op.drop_table("fingerprints")
