"""The ledger's tables (SQLAlchemy Core), sized from GitHub's limits. Alembic migrations
(app/migrations) create and change them; this is what the code reads and writes."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# GitHub's limits: an owner's login has up to 39 characters and a repository's name up to 100;
# a ref up to 255. A review's subject is `owner/name#number` or `owner/name@ref`.
REPO_CHARS = 39 + 1 + 100
REF_CHARS = 255
SUBJECT_CHARS = REPO_CHARS + 1 + REF_CHARS

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64)),
    sa.Column("installation_id", sa.BigInteger),
    sa.Column("repo", sa.String(256)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome", sa.String(256), nullable=False),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(64), index=True),
    sa.Column("repo", sa.String(256), nullable=False, index=True),
    sa.Column("subject", sa.String(SUBJECT_CHARS), nullable=False, index=True),
    sa.Column("number", sa.Integer),
    sa.Column("ref", sa.String(256)),
    sa.Column("head_sha", sa.String(40), nullable=False),
    sa.Column("job", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("check_run_id", sa.BigInteger),
    sa.Column("conclusion", sa.String(32)),
    sa.Column("assignment", sa.String(128)),
    sa.Column("score", sa.Float),
    sa.Column("points", sa.Integer),
    sa.Column("scores", sa.Text),
    sa.Column("flags", sa.Integer, nullable=False, default=0),
    sa.Column("late", sa.Boolean, nullable=False, default=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    # Of those, served from the provider's prompt cache (migration 0006).
    sa.Column("cached_prompt_tokens", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost_usd", sa.Float, nullable=False, default=0.0),
    sa.Column("comment_id", sa.BigInteger),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    # Hidden tests (migration 0004): waits for the grader run do not count as attempts.
    sa.Column("waits", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("tests_correlation", sa.String(64), index=True),
    sa.Column("tests_grader", sa.String(512)),
    sa.Column("tests_run_id", sa.BigInteger),
    sa.Column("tests_result", sa.Text),
    # Cohort integrity (migration 0005), reviewer-only: history signals and top matches (JSON).
    sa.Column("history", sa.Text),
    sa.Column("similarity", sa.Text),
)

# A submission's code fingerprints (winnowed hashes of normalised tokens), per assignment.
fingerprints = sa.Table(
    "fingerprints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.id"), nullable=False, index=True),
    sa.Column("assignment", sa.String(128), nullable=False, index=True),
    sa.Column("repo", sa.String(256), nullable=False),
    sa.Column("hash", sa.BigInteger, nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("start_line", sa.Integer, nullable=False),
    sa.Column("end_line", sa.Integer, nullable=False),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("reviews.id"), index=True, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("start_line", sa.Integer, nullable=False),
    sa.Column("end_line", sa.Integer, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("rule", sa.String(128), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)

llm_results = sa.Table(
    "llm_results",
    metadata,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

reviewer_issues = sa.Table(
    "reviewer_issues",
    metadata,
    sa.Column("reviewer_repo", sa.String(256), primary_key=True),
    sa.Column("repo", sa.String(256), primary_key=True),
    sa.Column("issue_number", sa.Integer, nullable=False),
    sa.Column("comment_id", sa.BigInteger),
)

# States: queued -> running [-> waiting (hidden tests) -> running] -> done | failed | superseded.
UNFINISHED = ("queued", "running", "waiting")
