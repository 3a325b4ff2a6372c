"""Hidden tests: a review can wait for the grader workflow without holding a worker; what it
waits for (correlation id, run id) and what came back are kept on the review.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("waits", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("tests_correlation", sa.String(64)))
        batch.add_column(sa.Column("tests_grader", sa.String(512)))
        batch.add_column(sa.Column("tests_run_id", sa.BigInteger))
        batch.add_column(sa.Column("tests_result", sa.Text))
        batch.create_index("ix_reviews_tests_correlation", ["tests_correlation"])


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("ix_reviews_tests_correlation")
        columns = ("tests_result", "tests_run_id", "tests_grader", "tests_correlation", "waits")
        for column in columns:
            batch.drop_column(column)
