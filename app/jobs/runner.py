"""Running one attempt at a review: the I/O shell around the pure pipeline, in four phases
that never go back — prepare, review, publish, record.

Every path out of `run` leaves the check run completed: a review that cannot be done ends with
a conclusion and a sentence, and the ledger records why. Once the check run carries a review,
nothing downgrades it: the PR comment, the reviewers' issue and the record fail on their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2

from app.github.api import GitHubClient
from app.github.assignments import AssignmentSource
from app.github.auth import AuthError, TokenCache
from app.github.publish import complete_check_run, start_check_run
from app.jobs import conclude as conclude_
from app.jobs import reviewing
from app.jobs.extras import deliver_extras
from app.jobs.failures import EXPECTED_FAILURES, failure_sentence
from app.jobs.models import ResolvedJob, ReviewJob
from app.jobs.reading import (
    ConfigProblem,
    Skip,
    assignment_for,
    resolve,
)
from app.jobs.record import Work, account, outcome_for, record
from app.jobs.reviewing import LLMFactory
from app.jobs.store import Attempt, GiveUp, JobStore, LeaseLost, Outcome
from app.jobs.tests_phase import TestsDeps, Wait, hidden_tests, tests_running
from app.ledger import Ledger
from app.metrics import Metrics
from app.render import CheckOutput, render_check_output
from app.review.assignment import Assignment
from app.review.models import Review, Reviewer, ReviewError
from app.review.tests_outcome import TestOutcome

log = logging.getLogger(__name__)




@dataclass(frozen=True, slots=True)
class RunnerConfig:
    api_url: str
    check_run_name: str
    max_file_bytes: int
    max_archive_bytes: int
    review_timeout: float = 600.0
    app_id: int | None = None


class Superseded(Exception):
    """A newer commit of the same PR or branch arrived; only the newest head is reviewed."""

    def __init__(self, newer: str) -> None:
        super().__init__(newer)
        self.newer = newer


class Runner:
    def __init__(
        self,
        *,
        config: RunnerConfig,
        http: httpx2.AsyncClient,
        tokens: TokenCache | None,
        store: JobStore,
        reviewers: Callable[[ReviewJob], Sequence[Reviewer]],
        llm: LLMFactory | None = None,
        prices: dict[str, tuple[float, ...]] | None = None,
        metrics: Metrics | None = None,
        assignments: AssignmentSource | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.http = http
        self.tokens = tokens
        self.store = store
        self.ledger: Ledger = store.ledger  # reads only: every write goes through the store
        self.review_deps = reviewing.ReviewDeps(
            store=store,
            reviewers=reviewers,
            llm=llm,
            prices=prices or {},
            max_file_bytes=config.max_file_bytes,
            max_archive_bytes=config.max_archive_bytes,
            app_id=config.app_id,
        )
        self.metrics = metrics or Metrics()
        self.assignments = assignments or AssignmentSource()
        self.sleep = sleep

    def client(self, token: str | None = None, installation_id: int | None = None) -> GitHubClient:
        label = str(installation_id) if installation_id is not None else "app"

        def count(method: str, status: int, headers: Mapping[str, str]) -> None:
            self.metrics.github_requests.labels(method=method, status=str(status)).inc()
            remaining = headers.get("x-ratelimit-remaining")
            if remaining is not None and remaining.isdigit():
                self.metrics.github_remaining.labels(installation=label).set(int(remaining))

        return GitHubClient(
            self.http,
            base_url=self.config.api_url,
            oauth_token=token,
            on_response=count,
            sleep=self.sleep,
        )

    async def installation_client(self, installation_id: int) -> GitHubClient:
        if self.tokens is None:
            raise AuthError("The GitHub App is not configured (GITHUB_APP_ID and a private key).")
        tokens = self.tokens
        token = await tokens.token(self.client(), installation_id)
        gh = self.client(token, installation_id)

        async def fresh_token(stale: str) -> str:  # after a 401: the token was revoked early
            return await tokens.refresh(self.client(), installation_id, stale)

        gh.refresh_token = fresh_token
        return gh

    # --- the job: prepare -> review -> publish -> record ------------------------------------

    async def run(self, attempt: Attempt) -> None:
        self.metrics.in_flight.inc()
        try:
            if isinstance(attempt, GiveUp):
                await self._give_up(attempt)
            else:
                await self._run(attempt)
        finally:
            self.metrics.in_flight.dec()

    async def _run(self, attempt: Attempt) -> None:
        work = Work(attempt=attempt, job=attempt.job, check_run_id=attempt.check_run_id)
        started = time.monotonic()
        limit = self.config.review_timeout
        try:
            async with asyncio.timeout(limit):
                work.gh = await self.installation_client(attempt.job.installation_id)
                assignment = await self.prepare(work)
                if assignment is None:
                    return
                tests = None
                if assignment.tests is not None:
                    got = await self.hidden_tests(work, assignment)
                    if isinstance(got, Wait):
                        await self._wait(work, got)
                        return
                    tests = got
                try:
                    review = await reviewing.review(
                        self.review_deps, work.client, work.target, assignment, tests=tests,
                        review_id=attempt.review_id,
                    )
                except TimeoutError as exc:
                    raise ReviewError(f"The review took longer than {limit:g} seconds.") from exc
                output = await self.publish(work, assignment, review)
        except TimeoutError:
            self.metrics.failures.labels(kind="timeout").inc()
            await self._end(
                work, conclude_.failed(
                    f"The review took longer than {limit:g} seconds and was stopped "
                    "(REVIEW_TIMEOUT_SECONDS)."
                ),
                state="failed",
            )
            return
        except LeaseLost as exc:
            # Another attempt owns the review now: this one writes nothing more anywhere.
            log.warning("review %s attempt %s stopped: %s", attempt.review_id, attempt.number, exc)
            self.metrics.failures.labels(kind="lease_lost").inc()
            return
        except Superseded as exc:
            log.info("review %s superseded by a review of %s", attempt.review_id, exc.newer[:7])
            await self._end(work, conclude_.superseded(exc.newer), state="superseded")
            return
        except ConfigProblem as exc:
            log.warning("review %s: assignment config problem: %s", attempt.review_id, exc)
            await self._end(work, conclude_.config_problem(str(exc)), state="failed")
            return
        except AuthError as exc:
            if work.gh is None:
                # Without a token there is no check run to complete; the ledger says why.
                log.error("review %s: cannot authenticate: %s", attempt.review_id, exc)
                self.metrics.failures.labels(kind="auth").inc()
                await self._finish(work, Outcome(state="failed", error=str(exc)))
                return
            await self._failed(work, failure_sentence(exc), kind=type(exc).__name__)
            return
        except EXPECTED_FAILURES as exc:
            await self._failed(work, failure_sentence(exc), kind=type(exc).__name__)
            return
        except Exception as exc:
            # The job boundary: a bug must not leave the check run in progress. It is logged
            # with its traceback and counted, not hidden.
            log.exception("review %s crashed", attempt.review_id)
            await self._failed(
                work,
                f"Relo Review hit an internal error ({type(exc).__name__}); the operators "
                "have the details in the service log.",
                kind="internal",
            )
            return
        # Published: from here on nothing downgrades the completed check run.
        try:
            problems = await deliver_extras(
                work.client, self.store, self.metrics, attempt, work.target, assignment, review
            )
        except LeaseLost as exc:
            log.warning("review %s attempt %s stopped: %s", attempt.review_id, attempt.number, exc)
            return
        await self._finish(
            work, outcome_for(review, assignment, work.job, output.conclusion, problems)
        )
        account(self.metrics, review, time.monotonic() - started)

    async def prepare(self, work: Work) -> Assignment | None:
        """Who asked, which assignment, whether to review at all; the check run in progress.
        None when there is nothing to review (recorded with the reason)."""
        gh = work.client
        assignment = await assignment_for(gh, self.assignments, work.job)
        if assignment is None:
            log.info("review %s: %s matches no assignment", work.attempt.review_id, work.job.repo)
            await self._finish(
                work, Outcome(state="done", error="the repository matches no assignment")
            )
            return None
        job = await resolve(gh, self.ledger, work.job, assignment)
        if not isinstance(job, Skip) and job.fresh:
            job = await self._rate_limited(work, job, assignment)
        if isinstance(job, Skip):
            log.info("review %s: not reviewed: %s", work.attempt.review_id, job.reason)
            await self._finish(work, Outcome(state="done", error=job.reason))
            return None
        if job != work.job:
            await self.store.set_job(work.attempt, job)
        work.job = work.resolved = job
        work.check_runs = assignment.feedback.check_run
        await self.checkpoint(work)
        if work.check_run_id is None and work.check_runs:
            check_run_id = await start_check_run(
                gh, job.repo, job.head_sha,
                name=self.config.check_run_name,
                external_id=job.external_id,
                reuse=work.attempt.number > 1,
            )
            await self.store.set_check_run(work.attempt, check_run_id)
            work.check_run_id = check_run_id
        return assignment

    async def _rate_limited(
        self, work: Work, job: ResolvedJob, assignment: Assignment
    ) -> ResolvedJob | Skip:
        """Re-runs and `/review`s of one submission are limited per hour: each may bill the
        LLM, and a candidate must not re-roll a grade until it suits them."""
        limit = assignment.reviewers.reruns_per_hour
        since = datetime.now(UTC) - timedelta(hours=1)
        asked = await self.ledger.requests_since(job.subject, since, work.attempt.review_id)
        if asked >= limit:
            return Skip(f"re-runs of this submission are limited to {limit} an hour")
        return job

    async def hidden_tests(self, work: Work, assignment: Assignment) -> TestOutcome | Wait:
        """The grader run's outcome, or how long to wait for it (see tests_phase)."""
        assert assignment.tests is not None and self.tokens is not None
        job = work.target
        fresh = job.fresh and await reviewing.asked_by_reviewer(work.client, job, assignment)
        deps = TestsDeps(self.store, self.client(), self.tokens.jwt())
        return await hidden_tests(
            deps, work.client, work.attempt, job, assignment.tests, reuse=not fresh
        )

    async def _wait(self, work: Work, wait: Wait) -> None:
        """Free the worker until the grader run completes; the check run says tests run."""
        if work.check_run_id is not None:
            await tests_running(work.client, work.job.repo, work.check_run_id)
        await self.store.wait(work.attempt, wait.until)
        log.info("review %s waits for its hidden tests until %s", work.attempt.review_id,
                 wait.until.isoformat())

    async def publish(self, work: Work, assignment: Assignment, review: Review) -> CheckOutput:
        """Complete the check run, once this attempt has made sure it still owns the review."""
        await self.checkpoint(work)
        await self.store.still_ours(work.attempt)  # LeaseLost: a newer attempt publishes instead
        show_score = assignment.feedback.show_score_to_candidate or not assignment.reviewer_repo
        sees = assignment.tests.candidate_sees if assignment.tests else "nothing"
        output = await render_check_output(review, show_score=show_score, tests_sees=sees)
        if work.check_run_id is not None:
            await complete_check_run(work.client, work.job.repo, work.check_run_id, output)
        work.completed = True
        return output

    async def checkpoint(self, work: Work) -> None:
        newer = await self.ledger.newer_head(work.attempt.review_id, work.job.subject)
        if newer is not None and newer != work.job.head_sha:
            raise Superseded(newer)

    async def _give_up(self, attempt: GiveUp) -> None:
        work = Work(attempt=attempt, job=attempt.job, check_run_id=attempt.check_run_id)
        sentence = conclude_.gave_up(attempt.max_attempts, attempt.last_error)
        log.error("review %s: %s", attempt.review_id, sentence)
        try:
            work.gh = await self.installation_client(attempt.job.installation_id)
        except EXPECTED_FAILURES as exc:
            log.error("review %s: cannot authenticate to give up: %s", attempt.review_id, exc)
        await self._failed(work, sentence, kind="gave_up")

    async def _failed(self, work: Work, sentence: str, *, kind: str) -> None:
        log.warning("review %s failed: %s", work.attempt.review_id, sentence)
        self.metrics.failures.labels(kind=kind).inc()
        self.metrics.reviews.labels(state="failed").inc()
        await self._end(work, conclude_.failed(sentence), state="failed", error=sentence)

    async def _end(
        self, work: Work, ending: conclude_.Ending, *, state: str, error: str | None = None
    ) -> None:
        """Conclude the check run (unless already completed: nothing downgrades it), record."""
        if work.gh is not None and not work.completed and work.check_runs:
            await conclude_.conclude(
                work.gh, work.job, work.check_run_id, ending,
                check_run_name=self.config.check_run_name,
            )
        await self._finish(work, Outcome(
            state=state, conclusion=ending.conclusion, error=error or ending.summary,
        ))

    async def _finish(self, work: Work, outcome: Outcome) -> None:
        """Record the outcome; a stale attempt's record is refused (LeaseLost) and dropped."""
        try:
            await record(self.store, work.attempt, outcome, sleep=self.sleep)
        except LeaseLost as exc:
            log.warning("review %s: result not recorded: %s", work.attempt.review_id, exc)
