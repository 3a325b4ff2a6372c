"""The ledger: deliveries, reviews, findings and stored LLM assessments.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64)),
        sa.Column("installation_id", sa.BigInteger),
        sa.Column("repo", sa.String(256)),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("outcome", sa.String(256), nullable=False),
    )
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(64), index=True),
        sa.Column("repo", sa.String(256), nullable=False, index=True),
        sa.Column("subject", sa.String(300), nullable=False, index=True),
        sa.Column("number", sa.Integer),
        sa.Column("ref", sa.String(256)),
        sa.Column("head_sha", sa.String(40), nullable=False),
        sa.Column("job", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("check_run_id", sa.BigInteger),
        sa.Column("conclusion", sa.String(32)),
        sa.Column("assignment", sa.String(128)),
        sa.Column("score", sa.Float),
        sa.Column("points", sa.Integer),
        sa.Column("scores", sa.Text),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("comment_id", sa.BigInteger),
        sa.Column("lease_until", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("started_at", TZ),
        sa.Column("finished_at", TZ),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "review_id", sa.Integer, sa.ForeignKey("reviews.id"), index=True, nullable=False
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("start_line", sa.Integer, nullable=False),
        sa.Column("end_line", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_table(
        "llm_results",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("llm_results", "findings", "reviews", "deliveries"):
        op.drop_table(table)
