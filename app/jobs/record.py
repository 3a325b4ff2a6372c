"""The last phase: what an attempt knows, and its result written to the ledger.

Recording never touches GitHub: a ledger that errors here is retried, and if it keeps failing
the attempt ends without a record (the next attempt re-publishes the same result), but the
completed check run is never downgraded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from app.github.api import GitHubClient
from app.jobs.failures import parse_time
from app.jobs.models import ResolvedJob, ReviewJob
from app.jobs.store import Attempt, JobStore, Outcome
from app.metrics import Metrics
from app.review.assignment import Assignment
from app.review.engine import is_late
from app.review.history import signals_json
from app.review.models import Review

log = logging.getLogger(__name__)

RECORD_TRIES = 4


@dataclass(slots=True)
class Work:
    """One attempt's state as it moves through the phases (local to that attempt)."""

    attempt: Attempt
    job: ReviewJob
    check_run_id: int | None = None
    gh: GitHubClient | None = None
    resolved: ResolvedJob | None = None  # what the job turned out to ask for (prepare)
    completed: bool = False  # the check run carries a finished review: never downgrade it
    check_runs: bool = True  # the assignment's `feedback.check_run`: false posts none at all

    @property
    def target(self) -> ResolvedJob:
        assert self.resolved is not None, "resolved in prepare"
        return self.resolved

    @property
    def client(self) -> GitHubClient:
        assert self.gh is not None, "authenticated in prepare"
        return self.gh


def outcome_for(
    review: Review, assignment: Assignment, job: ReviewJob, conclusion: str, problems: str | None
) -> Outcome:
    total = review.total
    return Outcome(
        state="done",
        conclusion=conclusion,
        error=problems,
        assignment=assignment.id,
        score=total[0] if total else None,
        points=total[1] if total else None,
        scores={s.criterion_id: s.score for s in review.scores} if review.scores else None,
        flags=len(review.flags) + sum(1 for f in review.findings if f.source == "injection"),
        late=is_late(assignment, parse_time(job.received_at)),
        prompt_tokens=sum(u.prompt_tokens for u in review.usage),
        cached_prompt_tokens=sum(u.cached_tokens for u in review.usage),
        completion_tokens=sum(u.completion_tokens for u in review.usage),
        cost_usd=review.cost_usd,
        found=review.findings,
        history=signals_json(review.history, review.history_notes)
        if review.history or review.history_notes
        else None,
        similarity=review.similarity_json,
    )


def account(metrics: Metrics, review: Review, seconds: float) -> None:
    for u in review.usage:
        metrics.llm_tokens.labels(model=u.model, kind="prompt").inc(u.prompt_tokens)
        metrics.llm_tokens.labels(model=u.model, kind="completion").inc(u.completion_tokens)
        metrics.llm_tokens.labels(model=u.model, kind="cached").inc(u.cached_tokens)
    if review.usage:
        metrics.llm_cost.labels(model=review.usage[0].model).inc(review.cost_usd)
    metrics.reviews.labels(state="done").inc()
    metrics.review_seconds.observe(seconds)


async def record(
    store: JobStore,
    attempt: Attempt,
    outcome: Outcome,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> None:
    """Write the outcome, retrying a failing ledger; LeaseLost is not retried."""
    pause = sleep or asyncio.sleep
    for n in range(1, RECORD_TRIES + 1):
        try:
            await store.finish(attempt, outcome)
            return
        except (SQLAlchemyError, OSError) as exc:
            if n == RECORD_TRIES:
                log.error(
                    "review %s: could not record its result after %d tries: %s",
                    attempt.review_id, n, exc,
                )
                raise
            log.warning("review %s: recording failed (%s); retrying", attempt.review_id, exc)
            await pause(0.5 * 2**n)
