"""What follows the check run (or takes its place, with `feedback.check_run: false`): the PR
comment, the reviewers' issue, inline comments.

The comment and inline comments are the candidate's: rendered from the candidate's view with the
`feedback` keys as the organisation set them. The reviewers' issue carries everything else.
Each can fail on its own (a deleted reviewers' repo, a locked PR) without undoing the review.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from app.github.api import GitHubClient
from app.github.publish import post_inline_comments, upsert_comment
from app.github.reviewers import publish_reviewer_issue
from app.jobs.failures import EXPECTED_FAILURES, failure_sentence, parse_time
from app.jobs.models import PullRequestJob, ResolvedJob
from app.jobs.similar_notes import tell_matched
from app.jobs.store import Attempt, JobStore, LeaseLost
from app.metrics import Metrics
from app.render import render_comment_body, render_inline_findings
from app.render_reviewer import render_reviewer_report
from app.review.assignment import Assignment
from app.review.engine import is_late
from app.review.models import Review

log = logging.getLogger(__name__)


async def deliver_extras(
    gh: GitHubClient,
    store: JobStore,
    metrics: Metrics,
    attempt: Attempt,
    job: ResolvedJob,
    assignment: Assignment,
    review: Review,
) -> str | None:
    """The PR comment, the reviewers' issue and inline comments, after the check run is
    complete. Each can fail on its own (a deleted reviewers' repo, a locked PR, a ledger that
    errors while remembering what was posted) without undoing the review: the failure is
    logged, counted, and returned for the record."""
    ledger = store.ledger
    review_id = attempt.review_id
    problems: list[str] = []
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
    pull = job if isinstance(job, PullRequestJob) else None
    feedback = assignment.feedback
    if pull is not None and feedback.pr_comment:
        number = pull.number

        async def comment() -> None:
            body = await render_comment_body(
                review,
                show_score=feedback.show_score_to_candidate,
                annotations=feedback.check_run,
                tests_sees=assignment.tests.candidate_sees if assignment.tests else "nothing",
            )
            known = await ledger.known_comment(job.subject)
            comment_id = await upsert_comment(gh, job.repo, number, body, known_id=known)
            await store.set_comment(attempt, comment_id)

        steps.append(("the PR comment", comment))
    if assignment.reviewer_repo:
        reviewer_repo = assignment.reviewer_repo

        async def reviewers_issue() -> None:
            known = await ledger.reviewer_issue(reviewer_repo, job.repo)
            number, results_id = await publish_reviewer_issue(
                gh,
                known=known,
                reviewer_repo=reviewer_repo,
                repo=job.repo,
                title=f"{assignment.title}: {job.repo}",
                body=await render_reviewer_report(
                    review,
                    repo=job.repo,
                    subject=f"PR #{pull.number}" if pull else f"push to {job.ref}",
                    author=job.sender,
                    received_at=job.received_at,
                    late=is_late(assignment, parse_time(job.received_at)),
                ),
            )
            if known != (number, results_id):
                await store.remember_reviewer_issue(reviewer_repo, job.repo, number, results_id)
            if review.similarity_json:
                await tell_matched(
                    gh, ledger, reviewer_repo=reviewer_repo, repo=job.repo,
                    head_sha=job.head_sha, issue=number, similarity_json=review.similarity_json,
                )

        steps.append((f"the issue in {reviewer_repo}", reviewers_issue))
    if pull is not None and feedback.inline_comments:
        number = pull.number

        async def inline() -> None:
            findings = await render_inline_findings(
                review, show_score=feedback.show_score_to_candidate
            )
            await post_inline_comments(gh, job.repo, number, job.head_sha, findings)

        steps.append(("the inline comments", inline))
    for what, step in steps:
        try:
            await step()
        except LeaseLost:
            raise
        except (*EXPECTED_FAILURES, SQLAlchemyError, OSError) as exc:
            log.warning("review %s: could not post %s: %s", review_id, what, exc)
            metrics.failures.labels(kind="publish").inc()
            problems.append(f"Could not post {what}: {failure_sentence(exc)}")
    return " ".join(problems) or None
