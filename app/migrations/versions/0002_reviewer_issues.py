"""Remember each submission's issue in the reviewers' private repository.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviewer_issues",
        sa.Column("reviewer_repo", sa.String(256), primary_key=True),
        sa.Column("repo", sa.String(256), primary_key=True),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column("comment_id", sa.BigInteger),
    )


def downgrade() -> None:
    op.drop_table("reviewer_issues")
