"""The hidden-tests phase, between prepare and review: dispatch the organisation's grader
workflow, then let the review wait — no worker slot, no lease — until the run completes (the
`workflow_run` webhook wakes it) or it is time to look again or give up.

Each call returns either the tests' outcome for the review, or `Wait`: the attempt then ends
and the review is claimed again later. The correlation id is stored before the dispatch, so a
restart never dispatches twice for one review; a finished run of the same commit and grader is
reused unless a reviewer asked for a fresh review.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from app.github.actions import (
    ActionsError,
    GraderUnreachable,
    WorkflowRun,
    dispatch,
    download_artifact,
    find_run,
    get_run,
    grader_inputs,
    grader_token,
    new_correlation,
)
from app.github.api import GitHubClient
from app.jobs.models import ResolvedJob
from app.jobs.store import Attempt, GraderRun, JobStore
from app.review.hidden_tests import read_artifact
from app.review.tests_config import HiddenTests
from app.review.tests_outcome import NoReport, TestOutcome, outcome_from_json, outcome_json

log = logging.getLogger(__name__)

POLL = timedelta(minutes=5)  # without the webhook, the run is looked at this often
MAX_ARTIFACT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Wait:
    """The review waits for its grader run until `until`."""

    until: datetime


@dataclass(frozen=True, slots=True)
class TestsDeps:
    """What the phase needs from the worker: the store, a client without an installation token
    (for the grader's token, made with the app's JWT) and the JWT itself."""

    store: JobStore
    app_client: GitHubClient
    app_jwt: str


def grader_key(tests: HiddenTests) -> str:
    w = tests.workflow
    return f"{w.repo}:{w.file}@{w.ref}"


def _pending(record: GraderRun) -> datetime | None:
    """When the run was dispatched, while its result is not known yet."""
    if record.result is None:
        return None
    data = json.loads(record.result)
    if not isinstance(data, dict) or not data.get("pending"):
        return None
    return datetime.fromisoformat(str(data["dispatched_at"]))


async def _record(
    store: JobStore, attempt: Attempt, record: GraderRun, outcome: TestOutcome
) -> TestOutcome:
    result = json.dumps(outcome_json(outcome))
    await store.set_tests(attempt, replace(record, result=result))
    return outcome


async def hidden_tests(
    deps: TestsDeps,
    gh: GitHubClient,
    attempt: Attempt,
    job: ResolvedJob,
    tests: HiddenTests,
    *,
    reuse: bool,
    now: datetime | None = None,
) -> TestOutcome | Wait:
    """The outcome of this review's hidden tests, or how long to wait for them."""
    now = now or datetime.now(UTC)
    key = grader_key(tests)
    record = attempt.tests if attempt.tests and attempt.tests.grader == key else None
    if record is None:
        if reuse:
            done = await deps.store.finished_tests(job.repo, job.head_sha, key)
            if done is not None and done.result is not None and _pending(done) is None:
                return outcome_from_json(json.loads(done.result))
        return await _dispatch(deps, gh, attempt, job, tests, key, now)
    dispatched_at = _pending(record)
    if dispatched_at is None:
        assert record.result is not None
        return outcome_from_json(json.loads(record.result))
    return await _look(deps, gh, attempt, tests, record, dispatched_at, now)


async def _dispatch(
    deps: TestsDeps,
    gh: GitHubClient,
    attempt: Attempt,
    job: ResolvedJob,
    tests: HiddenTests,
    key: str,
    now: datetime,
) -> TestOutcome | Wait:
    pending = json.dumps({"pending": True, "dispatched_at": now.isoformat()})
    record = GraderRun(new_correlation(), key, None, pending)
    await deps.store.set_tests(attempt, record)  # before dispatching: never dispatched twice
    try:
        token = await grader_token(
            deps.app_client, job.installation_id, job.repo, app_jwt=deps.app_jwt
        )
        run_id = await dispatch(
            gh, tests.workflow,
            inputs=grader_inputs(
                repository=job.repo, sha=job.head_sha, correlation=record.correlation,
                token=token.token,
            ),
        )
    except GraderUnreachable as exc:
        return await _record(
            deps.store, attempt, record, TestOutcome.none(NoReport.NO_PERMISSION, str(exc))
        )
    except ActionsError as exc:
        return await _record(
            deps.store, attempt, record, TestOutcome.none(NoReport.NOT_STARTED, str(exc))
        )
    if run_id is not None:
        await deps.store.set_tests(attempt, replace(record, run_id=run_id))
    log.info("review %s: grader run dispatched (%s)", attempt.review_id, record.correlation)
    deadline = now + timedelta(minutes=tests.timeout_minutes)
    return Wait(until=min(deadline, now + POLL))


async def _look(
    deps: TestsDeps,
    gh: GitHubClient,
    attempt: Attempt,
    tests: HiddenTests,
    record: GraderRun,
    dispatched_at: datetime,
    now: datetime,
) -> TestOutcome | Wait:
    """Resumed: read the run from the grader repository itself (the webhook only woke us)."""
    workflow = tests.workflow
    run: WorkflowRun | None
    if record.run_id is not None:
        run = await get_run(gh, workflow.repo, record.run_id)
    else:
        since = (dispatched_at - timedelta(minutes=1)).isoformat()
        run = await find_run(gh, workflow, record.correlation, created_after=since)
    deadline = dispatched_at + timedelta(minutes=tests.timeout_minutes)
    if run is None or not run.completed:
        if now >= deadline:
            outcome = TestOutcome.none(
                NoReport.TIMED_OUT, f"after {tests.timeout_minutes} minutes",
                run_url=run.html_url if run else "",
            )
            return await _record(deps.store, attempt, record, outcome)
        return Wait(until=min(deadline, now + POLL))
    if run.conclusion == "cancelled":
        outcome = TestOutcome.none(NoReport.CANCELLED, run_url=run.html_url)
        return await _record(deps.store, attempt, record, outcome)
    data = await download_artifact(
        gh, workflow.repo, run.id, tests.artifact, max_bytes=MAX_ARTIFACT_BYTES
    )
    if data is None:
        detail = f"the run ended {run.conclusion or 'without a conclusion'}"
        outcome = TestOutcome.none(NoReport.NO_ARTIFACT, detail, run_url=run.html_url)
    else:
        outcome = await read_artifact(data, run_url=run.html_url)
    return await _record(deps.store, attempt, record, outcome)


async def tests_running(gh: GitHubClient, repo: str, check_run_id: int) -> None:
    """Tell the candidate (and reviewers) on the in-progress check run why it takes a while."""
    await gh.patch(
        f"/repos/{repo}/check-runs/{check_run_id}",
        data={
            "status": "in_progress",
            "output": {
                "title": "Hidden tests are running",
                "summary": "The organisation's tests are running on this commit; the review "
                "completes when they finish.",
            },
        },
    )
