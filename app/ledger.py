"""The ledger: what was delivered, what was reviewed, with what outcome and cost.

SQLAlchemy Core on an async engine: a SQLite file by default, PostgreSQL at scale. A delivery
is recorded, and its review job stored, in one transaction before the 202 is sent, so a crash
after that point loses nothing: the next start finds the job unfinished and runs it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.jobs.models import ReviewJob, job_from_dict
from app.ledger_engine import as_ledger_error, migrate, open_engine, refused_row
from app.ledger_schema import (
    REF_CHARS as REF_CHARS,
)
from app.ledger_schema import (
    REPO_CHARS as REPO_CHARS,
)
from app.ledger_schema import (
    SUBJECT_CHARS as SUBJECT_CHARS,
)
from app.ledger_schema import (
    UNFINISHED as UNFINISHED,
)
from app.ledger_schema import (
    deliveries as deliveries,
)
from app.ledger_schema import (
    findings as findings,
)
from app.ledger_schema import (
    fingerprints as fingerprints,
)
from app.ledger_schema import (
    llm_results as llm_results,
)
from app.ledger_schema import (
    metadata as metadata,
)
from app.ledger_schema import (
    reviewer_issues as reviewer_issues,
)
from app.ledger_schema import (
    reviews as reviews,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery as the ledger records it, with the review jobs it asks for."""

    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    repo: str | None
    outcome: str
    jobs: tuple[ReviewJob, ...] = ()

    def row(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.delivery_id,
            "event": _fit(self.event, 64),
            "action": _fit(self.action, 64) if self.action else None,
            "installation_id": self.installation_id,
            "repo": _fit(self.repo, 256) if self.repo else None,
            "received_at": now,
            "outcome": _fit(self.outcome, 256),
        }


@dataclass(frozen=True, slots=True)
class Refused:
    """A delivery the database would not store (a value it refuses); the rest of its batch was."""

    error: SQLAlchemyError


Accepted = list[int] | None | Refused


def _fit(text: str, limit: int) -> str:
    """Text the columns take on every database: PostgreSQL refuses NUL characters."""
    return text.replace("\x00", "")[:limit]


def _review_row(job: ReviewJob, delivery_id: str, now: datetime) -> dict[str, Any]:
    # Webhook jobs fit already (events.py checks names and refs); jobs from elsewhere (the
    # CLI) are fitted rather than refused. The whole job is kept in `job`.
    return {
        "delivery_id": _fit(delivery_id, 64),
        "repo": _fit(job.repo, 256),
        "subject": _fit(job.subject, SUBJECT_CHARS),
        "number": getattr(job, "number", None),
        "ref": _fit(getattr(job, "ref", None) or "", 256) or None,
        "head_sha": _fit(job.head_sha, 40),
        "job": json.dumps(job.to_dict()),
        "state": "queued",
        "attempts": 0,
        "flags": 0,
        "late": False,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class StoredReview:
    id: int
    job: ReviewJob
    state: str
    attempts: int
    check_run_id: int | None


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Ledger:
        return cls(open_engine(url))

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent; run at every start,
        by every process: they take turns)."""
        await migrate(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def accept_delivery(
        self,
        *,
        delivery_id: str,
        event: str,
        action: str | None,
        installation_id: int | None,
        repo: str | None,
        outcome: str,
        jobs: Sequence[ReviewJob] = (),
    ) -> list[int] | None:
        """Record a delivery and its jobs atomically; None when the delivery id was seen before."""
        delivery = Delivery(delivery_id, event, action, installation_id, repo, outcome, tuple(jobs))
        return await self.accept_delivery_record(delivery)

    async def accept_delivery_record(self, delivery: Delivery) -> list[int] | None:
        result = (await self.accept_deliveries([delivery]))[0]
        if isinstance(result, Refused):
            raise result.error
        return result

    async def accept_deliveries(self, batch: Sequence[Delivery]) -> list[Accepted]:
        """Record several deliveries in one transaction (one commit, one fsync): per delivery
        its new review ids, None for a delivery id seen before (or earlier in the batch), or
        `Refused` when the database refused its values.

        When the database refuses a row, or another process records one of these ids
        meanwhile, the batch is retried one by one so that only that delivery is refused. A
        failing database (connection lost, file locked) fails the whole batch."""
        try:
            return await self._accept_batch(batch)
        except (SQLAlchemyError, OverflowError) as exc:
            if not refused_row(exc):
                raise
            if len(batch) > 1:
                return [(await self.accept_deliveries([d]))[0] for d in batch]
            if isinstance(exc, IntegrityError) and await self._recorded(batch[0].delivery_id):
                return [None]
            return [Refused(as_ledger_error(exc))]

    async def _recorded(self, delivery_id: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(deliveries.c.id).where(deliveries.c.id == delivery_id)
            )
            return found.first() is not None

    async def _accept_batch(self, batch: Sequence[Delivery]) -> list[Accepted]:
        now = utcnow()
        async with self.engine.begin() as conn:
            seen = set(
                (
                    await conn.execute(
                        sa.select(deliveries.c.id).where(
                            deliveries.c.id.in_({d.delivery_id for d in batch})
                        )
                    )
                ).scalars()
            )
            fresh: list[Delivery] = []
            for delivery in batch:
                if delivery.delivery_id not in seen:
                    seen.add(delivery.delivery_id)
                    fresh.append(delivery)
            if fresh:
                await conn.execute(deliveries.insert(), [d.row(now) for d in fresh])
            rows = [_review_row(job, d.delivery_id, now) for d in fresh for job in d.jobs]
            new_ids: list[int] = []
            if rows:
                result = await conn.execute(
                    reviews.insert().returning(reviews.c.id, sort_by_parameter_order=True), rows
                )
                new_ids = [int(i) for i in result.scalars()]
        ids = iter(new_ids)
        accepted = {id(d): [next(ids) for _ in d.jobs] for d in fresh}
        return [accepted.get(id(d)) for d in batch]

    async def enqueue_job(self, job: ReviewJob) -> int:
        """A review job without a delivery of its own (e.g. started from the CLI)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                reviews.insert().values(**_review_row(job, job.delivery_id, utcnow()))
            )
            return _new_id(result)

    async def runnable(self) -> list[int]:
        """Reviews a worker may take now: queued, running under an expired lease, or waiting
        for hidden tests whose wait is over."""
        now = utcnow()
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(reviews.c.id)
                    .where(
                        sa.or_(
                            reviews.c.state == "queued",
                            sa.and_(
                                reviews.c.state.in_(("running", "waiting")),
                                sa.or_(
                                    reviews.c.lease_until.is_(None), reviews.c.lease_until < now
                                ),
                            ),
                        )
                    )
                    .order_by(reviews.c.id)
                )
            ).all()
        return [int(r.id) for r in rows]

    async def newer_head(self, review_id: int, subject: str) -> str | None:
        """The head SHA of a newer review of the same subject, if one arrived since."""
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(reviews.c.head_sha)
                    .where(
                        reviews.c.subject == subject,
                        reviews.c.id > review_id,
                        reviews.c.head_sha != "",  # a /review command not yet authorised
                        reviews.c.state.in_(("queued", "running", "waiting", "done")),
                    )
                    .order_by(reviews.c.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()

    async def known_comment(self, subject: str) -> int | None:
        """The summary comment an earlier review of this PR posted, to edit without a search."""
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(reviews.c.comment_id)
                    .where(reviews.c.subject == subject, reviews.c.comment_id.is_not(None))
                    .order_by(reviews.c.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()

    async def requests_since(self, subject: str, since: datetime, before_id: int) -> int:
        """How many re-runs and `/review` commands of this subject arrived since `since`
        (reviews that people asked for, as opposed to pushes and PR events)."""
        async with self.engine.connect() as conn:
            count = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(reviews.join(deliveries, deliveries.c.id == reviews.c.delivery_id))
                    .where(
                        reviews.c.subject == subject,
                        reviews.c.id < before_id,
                        reviews.c.created_at >= since,
                        deliveries.c.event.in_(("check_run", "check_suite", "issue_comment")),
                    )
                )
            ).scalar_one()
        return int(count)

    async def jobs_for_head(self, repo: str, head_sha: str, limit: int = 10) -> list[ReviewJob]:
        """The jobs of the newest reviews of this commit, newest first (to re-run it as what
        it was)."""
        async with self.engine.connect() as conn:
            texts = (
                await conn.execute(
                    sa.select(reviews.c.job)
                    .where(reviews.c.repo == repo, reviews.c.head_sha == head_sha)
                    .order_by(reviews.c.id.desc())
                    .limit(limit)
                )
            ).scalars()
            return [job_from_dict(json.loads(text)) for text in texts]

    async def get(self, review_id: int) -> StoredReview | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(reviews).where(reviews.c.id == review_id))
            ).one_or_none()
        return _stored(row) if row is not None else None

    async def unfinished(self) -> list[StoredReview]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(reviews).where(reviews.c.state.in_(UNFINISHED)).order_by(reviews.c.id)
                )
            ).all()
        return [_stored(r) for r in rows]

    async def review_states(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(reviews.c.state, sa.func.count()).group_by(reviews.c.state)
                )
            ).all()
        return {str(state): int(n) for state, n in rows}

    async def cached_assessment(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(sa.select(llm_results.c.data).where(llm_results.c.key == key))
            ).scalar_one_or_none()

    async def store_assessment(self, key: str, data: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(llm_results.delete().where(llm_results.c.key == key))
            await conn.execute(llm_results.insert().values(key=key, data=data, created_at=utcnow()))

    async def reviewer_issue(self, reviewer_repo: str, repo: str) -> tuple[int, int | None] | None:
        """(issue number, results comment id) of a submission's issue in the reviewers' repo."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(reviewer_issues.c.issue_number, reviewer_issues.c.comment_id).where(
                        reviewer_issues.c.reviewer_repo == reviewer_repo,
                        reviewer_issues.c.repo == repo,
                    )
                )
            ).one_or_none()
        return (int(row[0]), row[1]) if row is not None else None

    async def remember_reviewer_issue(
        self, reviewer_repo: str, repo: str, number: int, comment_id: int | None
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                reviewer_issues.delete().where(
                    reviewer_issues.c.reviewer_repo == reviewer_repo,
                    reviewer_issues.c.repo == repo,
                )
            )
            await conn.execute(
                reviewer_issues.insert().values(
                    reviewer_repo=reviewer_repo, repo=repo, issue_number=number,
                    comment_id=comment_id,
                )
            )


def _new_id(result: Any) -> int:
    return int(result.inserted_primary_key[0])


def _stored(row: Any) -> StoredReview:
    return StoredReview(
        id=int(row.id),
        job=job_from_dict(json.loads(row.job)),
        state=str(row.state),
        attempts=int(row.attempts),
        check_run_id=int(row.check_run_id) if row.check_run_id is not None else None,
    )
