"""The review phase: read the submission from GitHub and run the pipeline on it.

Whether a re-run gets a fresh grade is decided here, once the submission's committers are
known: only a reviewer who is neither the PR's author nor a committer gets one; anyone else's
re-run re-publishes the stored assessment without calling the LLM.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from app.github.api import GitHubClient
from app.github.candidate_ci import candidate_ci, workflows_changed
from app.github.content import fetch_contents
from app.github.fetch import Fetched
from app.github.history import repo_created_at
from app.jobs.authority import is_reviewer
from app.jobs.failures import EXPECTED_FAILURES, parse_time
from app.jobs.models import PullRequestJob, PushJob, ResolvedJob, ReviewJob
from app.jobs.reading import fetch_change, pull_text
from app.jobs.store import JobStore
from app.review.assignment import DEFAULT_ASSIGNMENT, Assignment
from app.review.engine import (
    AssessmentCache,
    ReviewPlan,
    assessment_from_json,
    assessment_to_json,
    review_submission,
)
from app.review.history import HistoryFacts, Signal, history_notes, history_signals
from app.review.llm import LLMAssessment, LLMReviewer
from app.review.models import Change, CIEntry, Review, Reviewer, Submission
from app.review.similarity import fingerprint_submission, fingerprint_text
from app.review.similarity_evidence import matches_json, render_matches
from app.review.tests_outcome import TestOutcome
from app.similarity_store import matches, record_fingerprints

log = logging.getLogger(__name__)

COMPARE_COMMITS_LIMIT = 250  # GitHub's compare lists at most this many commits

LLMFactory = Callable[[Assignment], tuple[LLMReviewer | None, str]]


@dataclass(frozen=True, slots=True)
class ReviewDeps:
    store: JobStore
    reviewers: Callable[[ReviewJob], Sequence[Reviewer]]
    llm: LLMFactory | None
    prices: dict[str, tuple[float, ...]]
    max_file_bytes: int
    max_archive_bytes: int
    app_id: int | None = None  # this app's: its own check runs are not the candidate's CI


def assessment_cache(store: JobStore) -> AssessmentCache:
    async def get(key: str) -> LLMAssessment | None:
        text = await store.ledger.cached_assessment(key)
        return assessment_from_json(text) if text is not None else None

    async def put(key: str, assessment: LLMAssessment) -> None:
        await store.store_assessment(key, assessment_to_json(assessment))

    return get, put


async def pr_author(gh: GitHubClient, job: ResolvedJob) -> str | None:
    if not isinstance(job, PullRequestJob):
        return None
    if job.author is not None:
        return job.author
    pr = await gh.getitem(f"/repos/{job.repo}/pulls/{job.number}")
    login = (pr.get("user") or {}).get("login")
    return login if isinstance(login, str) else None


async def asked_by_reviewer(
    gh: GitHubClient, job: ResolvedJob, assignment: Assignment, committers: Sequence[str] = ()
) -> bool:
    """Whether whoever asked for this re-run may have a fresh grade: a reviewer who is neither
    the PR's author nor one of the submission's committers."""
    author = await pr_author(gh, job)
    return await is_reviewer(
        gh, assignment, org=job.repo.split("/", 1)[0], login=job.sender,
        candidates={*committers, *([author] if author else [])},
    )


async def _candidate_ci(
    gh: GitHubClient, job: ResolvedJob, change: Change, app_id: int
) -> tuple[CIEntry, ...]:
    paths = [p for f in change.files for p in (f.path, f.previous_path) if p]
    try:
        checks = await candidate_ci(
            gh, job.repo, job.head_sha, app_id=app_id, workflows_changed=workflows_changed(paths)
        )
    except EXPECTED_FAILURES as exc:
        log.warning("could not list the candidate's own CI on %s: %s", job.repo, exc)
        return ()
    return tuple(
        CIEntry(c.app, c.name, c.status, c.conclusion, c.url, c.untrusted) for c in checks
    )


async def _similarity(
    deps: ReviewDeps,
    review_id: int | None,
    job: ResolvedJob,
    assignment: Assignment,
    submission: Submission,
    result: Review,
) -> Review:
    """The closest earlier submissions of the cohort (an inverted index on fingerprints, never a
    pairwise scan), then this submission's fingerprints stored for later ones."""
    settings = assignment.similarity
    exclude = fingerprint_text("brief", assignment.brief) if assignment.brief else frozenset()
    prints = await asyncio.to_thread(
        fingerprint_submission, submission, boilerplate=settings.boilerplate, exclude=exclude
    )
    engine = deps.store.engine
    found = await matches(engine, assignment.id, job.repo, prints, earlier=settings.earlier)
    if review_id is not None:
        await record_fingerprints(engine, review_id, assignment.id, job.repo, prints)
    if not found:
        return result
    return replace(
        result,
        similarity_report=render_matches(found),
        similarity_json=json.dumps(matches_json(found)),
    )


async def _history(
    gh: GitHubClient, job: ResolvedJob, assignment: Assignment, fetched: Fetched
) -> tuple[tuple[Signal, ...], tuple[str, ...]]:
    """Observations on the commit history, from the compare already fetched; the repository's
    creation date costs one request, made only where reviewers will read the result."""
    created = None
    if assignment.reviewer_repo:
        try:
            created = await repo_created_at(gh, job.repo)
        except EXPECTED_FAILURES as exc:
            log.warning("could not read when %s was created: %s", job.repo, exc)
    submitter = job.author if isinstance(job, PullRequestJob) else job.sender
    facts = HistoryFacts(
        commits=tuple(reversed(fetched.commits)),
        submitter=submitter or job.sender,
        repo_created_at=created,
        forced=isinstance(job, PushJob) and job.forced,
        forced_from=job.before if isinstance(job, PushJob) else None,
        delivered_at=parse_time(job.received_at),
        deadline=assignment.deadline,
        complete=len(fetched.commits) < COMPARE_COMMITS_LIMIT,
    )
    return history_signals(facts, assignment.history), history_notes(facts, assignment.history)


async def review(
    deps: ReviewDeps,
    gh: GitHubClient,
    job: ResolvedJob,
    assignment: Assignment,
    *,
    tests: TestOutcome | None = None,
    review_id: int | None = None,
) -> Review:
    fetched: Fetched = await fetch_change(gh, job, assignment)
    change = fetched.change
    contents = await fetch_contents(
        gh,
        repo=job.repo,
        ref=job.head_sha,
        paths=[f.path for f in change.files],
        max_file_bytes=deps.max_file_bytes,
        max_archive_bytes=deps.max_archive_bytes,
    )
    title, body = await pull_text(gh, job)
    submission = Submission(
        repo=job.repo,
        change=change,
        contents=contents.files,
        title=title,
        body=body,
        commit_messages=fetched.commit_messages,
    )
    llm, model = deps.llm(assignment) if deps.llm is not None else (None, "")
    fresh = job.fresh and await asked_by_reviewer(gh, job, assignment, fetched.committers)
    plan = ReviewPlan(
        assignment=assignment,
        reviewers=tuple(deps.reviewers(job)),
        llm=llm,
        model=model,
        prices=deps.prices,
        fresh=fresh,
        reuse_only=job.fresh and not fresh,
        received_at=parse_time(job.received_at),
        tests=tests,
    )
    result = await review_submission(submission, plan, assessment_cache(deps.store))
    if assignment.reviewer_repo and deps.app_id is not None:  # shown to reviewers only
        result = replace(result, candidate_ci=await _candidate_ci(gh, job, change, deps.app_id))
    signals, notes = await _history(gh, job, assignment, fetched)
    result = replace(result, history=signals, history_notes=notes)
    # A cohort exists only where the organisation configured an assignment: without a config
    # file every installed repository gets the default review, and nothing is compared.
    if assignment.similarity.enabled and assignment is not DEFAULT_ASSIGNMENT:
        result = await _similarity(deps, review_id, job, assignment, submission, result)
    if contents.too_large:
        note = (
            f"{len(contents.too_large)} file(s) over {deps.max_file_bytes} bytes were not "
            "analysed: " + ", ".join(contents.too_large[:10]) + "."
        )
        result = replace(result, notes=(*result.notes, note))
    return result
