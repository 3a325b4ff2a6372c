"""The job layer's hold on the ledger: the only code that writes a review's state.

A claim returns an `Attempt` (review id + attempt number). Every later write of that attempt is
a compare-and-set on both, so a worker whose lease ran out — and whose review another worker
has since taken over — can never overwrite the newer attempt's result or add findings twice:
its write matches no row and raises `LeaseLost`, which stops it.

A review that has used its attempts is claimed one last time as a `GiveUp`: that attempt only
concludes the check run with the reason and records the review as failed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.jobs.models import ReviewJob
from app.ledger import Ledger, _stored, findings, reviews, utcnow
from app.review.models import Finding


@dataclass(frozen=True, slots=True)
class GraderRun:
    """The hidden-test run of a review: dispatched under `correlation`, and its result (JSON)
    once known."""

    correlation: str
    grader: str
    run_id: int | None = None
    result: str | None = None


class LeaseLost(Exception):
    """This attempt no longer owns its review: another attempt took over, or it finished."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """The right to work on one review, as attempt `number`; every write is fenced by both."""

    review_id: int
    number: int
    job: ReviewJob
    check_run_id: int | None = None
    last_error: str | None = None
    tests: GraderRun | None = None  # the grader run this review waits for, or waited for

    @property
    def final(self) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class GiveUp(Attempt):
    """An attempt past the cap: it concludes the check run with why, and nothing else."""

    max_attempts: int = 0

    @property
    def final(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished attempt records; everything but `state` is optional."""

    state: str  # done | failed | superseded
    conclusion: str | None = None
    error: str | None = None
    assignment: str | None = None
    score: float | None = None
    points: int | None = None
    scores: dict[str, Any] | None = None
    flags: int = 0
    late: bool = False
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    found: Sequence[Finding] = field(default_factory=tuple)
    history: str | None = None  # JSON: the commit history's signals (reviewer-only)
    similarity: str | None = None  # JSON: the closest earlier submissions (reviewer-only)


def _claimable(now: Any) -> Any:
    """Queued; running under a lease its worker let run out; or waiting for hidden tests
    whose wait is over (the run completed, or it is time to look or give up)."""
    return sa.or_(
        reviews.c.state == "queued",
        sa.and_(
            reviews.c.state.in_(("running", "waiting")),
            sa.or_(reviews.c.lease_until.is_(None), reviews.c.lease_until < now),
        ),
    )


def _fence(attempt: Attempt) -> Any:
    return sa.and_(
        reviews.c.id == attempt.review_id,
        reviews.c.attempts == attempt.number,
        reviews.c.state == "running",
    )


class JobStore:
    def __init__(self, ledger: Ledger, *, lease_seconds: float, max_attempts: int = 3) -> None:
        self.ledger = ledger
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts

    @property
    def engine(self) -> Any:
        return self.ledger.engine

    async def claim(self, review_id: int) -> Attempt | None:
        """The next attempt at a review that is queued or whose lease ran out; None when it is
        finished, superseded, or held by a live attempt."""
        now = utcnow()
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(reviews.c.attempts, reviews.c.waits, reviews.c.error).where(
                        reviews.c.id == review_id, _claimable(now)
                    )
                )
            ).one_or_none()
            if row is None:
                return None
            number = int(row.attempts) + 1
            result = await conn.execute(
                reviews.update()
                .where(
                    reviews.c.id == review_id,
                    reviews.c.attempts == row.attempts,
                    _claimable(now),
                )
                .values(
                    state="running",
                    attempts=number,
                    started_at=now,
                    lease_until=now + timedelta(seconds=self.lease_seconds),
                )
            )
            if result.rowcount == 0:
                return None  # another worker won the race
            full = (await conn.execute(sa.select(reviews).where(reviews.c.id == review_id))).one()
        stored = _stored(full)
        tests = (
            GraderRun(
                full.tests_correlation, full.tests_grader or "", full.tests_run_id,
                full.tests_result,
            )
            if full.tests_correlation is not None
            else None
        )
        if number - int(row.waits) > self.max_attempts:  # waiting for tests is no attempt
            return GiveUp(
                review_id, number, stored.job, stored.check_run_id,
                last_error=row.error, tests=tests, max_attempts=self.max_attempts,
            )
        return Attempt(
            review_id, number, stored.job, stored.check_run_id, last_error=row.error, tests=tests
        )

    async def _write(self, attempt: Attempt, **values: Any) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(reviews.update().where(_fence(attempt)).values(**values))
        if result.rowcount == 0:
            raise LeaseLost(f"review {attempt.review_id} is no longer attempt {attempt.number}'s")

    async def still_ours(self, attempt: Attempt) -> None:
        """LeaseLost unless this attempt still holds the review (a read: no commit, no fsync;
        every write after it is fenced anyway)."""
        async with self.engine.connect() as conn:
            held = (
                await conn.execute(sa.select(reviews.c.id).where(_fence(attempt)))
            ).scalar_one_or_none()
        if held is None:
            raise LeaseLost(f"review {attempt.review_id} is no longer attempt {attempt.number}'s")

    async def renew(self, attempt: Attempt) -> None:
        """Extend the lease; LeaseLost when another attempt has taken the review over."""
        await self._write(attempt, lease_until=utcnow() + timedelta(seconds=self.lease_seconds))

    async def set_check_run(self, attempt: Attempt, check_run_id: int) -> None:
        await self._write(attempt, check_run_id=check_run_id)

    async def set_job(self, attempt: Attempt, job: ReviewJob) -> None:
        """A `/review` command or a re-run learns its head and PR once resolved."""
        await self._write(
            attempt, head_sha=job.head_sha, subject=job.subject,
            number=getattr(job, "number", None), ref=getattr(job, "ref", None),
            job=json.dumps(job.to_dict()),
        )

    async def set_comment(self, attempt: Attempt, comment_id: int) -> None:
        await self._write(attempt, comment_id=comment_id)

    async def set_tests(self, attempt: Attempt, tests: GraderRun) -> None:
        await self._write(
            attempt, tests_correlation=tests.correlation, tests_grader=tests.grader[:512],
            tests_run_id=tests.run_id, tests_result=tests.result,
        )

    async def wait(self, attempt: Attempt, until: datetime) -> None:
        """Leave the review waiting for its hidden tests: no worker, no lease is held until
        `wake` (the workflow_run webhook) or `until` (poll, or give up on the run)."""
        await self._write(attempt, state="waiting", lease_until=until, waits=reviews.c.waits + 1)

    async def wake(self, correlation: str, *, grader_repo: str | None = None) -> list[int]:
        """The grader run of `correlation` completed: its waiting reviews become claimable.
        Only a run of the grader repository wakes anything (a candidate's own workflow can copy
        the run's title); the resumed attempt reads the run from GitHub itself anyway."""
        match = [reviews.c.tests_correlation == correlation, reviews.c.state == "waiting"]
        if grader_repo is not None:
            match.append(
                sa.func.lower(reviews.c.tests_grader).startswith(f"{grader_repo.lower()}:")
            )
        async with self.engine.begin() as conn:
            ids = list((await conn.execute(sa.select(reviews.c.id).where(*match))).scalars())
            if ids:
                await conn.execute(
                    reviews.update()
                    .where(reviews.c.id.in_(ids), reviews.c.state == "waiting")
                    .values(lease_until=utcnow())
                )
        return [int(i) for i in ids]

    async def finished_tests(self, repo: str, head_sha: str, grader: str) -> GraderRun | None:
        """A finished grader run of the same commit and grader (re-runs reuse it)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        reviews.c.tests_correlation, reviews.c.tests_run_id,
                        reviews.c.tests_result,
                    )
                    .where(
                        reviews.c.repo == repo,
                        reviews.c.head_sha == head_sha,
                        reviews.c.tests_grader == grader[:512],
                        reviews.c.tests_result.is_not(None),
                    )
                    .order_by(reviews.c.id.desc())
                    .limit(1)
                )
            ).one_or_none()
        if row is None:
            return None
        return GraderRun(row.tests_correlation, grader, row.tests_run_id, row.tests_result)

    async def interrupted(self, attempt: Attempt, why: str) -> None:
        """Hand the review to the next attempt now, instead of when the lease runs out."""
        await self._write(attempt, lease_until=utcnow(), error=why[:2000])

    async def finish(self, attempt: Attempt, outcome: Outcome) -> None:
        """Record the result and the findings in one transaction, once, by this attempt only."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                reviews.update()
                .where(_fence(attempt))
                .values(
                    state=outcome.state,
                    conclusion=outcome.conclusion,
                    error=outcome.error[:2000] if outcome.error else None,
                    assignment=outcome.assignment,
                    score=outcome.score,
                    points=outcome.points,
                    scores=json.dumps(outcome.scores) if outcome.scores is not None else None,
                    flags=outcome.flags,
                    late=outcome.late,
                    prompt_tokens=outcome.prompt_tokens,
                    cached_prompt_tokens=outcome.cached_prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                    cost_usd=outcome.cost_usd,
                    history=outcome.history,
                    similarity=outcome.similarity,
                    lease_until=None,
                    finished_at=utcnow(),
                )
            )
            if result.rowcount == 0:
                raise LeaseLost(
                    f"review {attempt.review_id} is no longer attempt {attempt.number}'s"
                )
            if outcome.found:
                await conn.execute(
                    findings.insert(), [_finding_row(attempt.review_id, f) for f in outcome.found]
                )

    async def supersede_older(self, review_id: int, subject: str) -> list[int]:
        """Mark older queued reviews of the same subject superseded; return their ids."""
        async with self.engine.begin() as conn:
            ids = list(
                (
                    await conn.execute(
                        sa.select(reviews.c.id).where(
                            reviews.c.subject == subject,
                            reviews.c.id < review_id,
                            reviews.c.state == "queued",
                        )
                    )
                ).scalars()
            )
            if ids:
                await conn.execute(
                    reviews.update()
                    .where(reviews.c.id.in_(ids), reviews.c.state == "queued")
                    .values(state="superseded", finished_at=utcnow())
                )
        return [int(i) for i in ids]

    async def remember_reviewer_issue(
        self, reviewer_repo: str, repo: str, number: int, comment_id: int | None
    ) -> None:
        await self.ledger.remember_reviewer_issue(reviewer_repo, repo, number, comment_id)

    async def store_assessment(self, key: str, data: str) -> None:
        await self.ledger.store_assessment(key, data)


def _finding_row(review_id: int, f: Finding) -> dict[str, Any]:
    return {
        "review_id": review_id,
        "path": f.path,
        "start_line": f.start_line,
        "end_line": f.end_line,
        "severity": f.severity.value,
        "rule": f.rule[:128],
        "source": f.source[:32],
        "message": f.message[:4000],
    }
