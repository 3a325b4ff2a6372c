"""Running one review job: the I/O shell around the pure pipeline.

Every path out of `run` leaves the check run completed: a review that cannot be done ends with
a conclusion and a sentence, and the ledger records why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import httpx2

from app.github.api import GitHubClient
from app.github.assignments import AssignmentSource
from app.github.auth import AuthError, TokenCache
from app.github.content import fetch_contents
from app.github.publish import (
    complete_check_run,
    create_completed_check_run,
    fail_check_run,
    start_check_run,
)
from app.jobs.extras import deliver_extras
from app.jobs.failures import EXPECTED_FAILURES, failure_sentence, parse_time
from app.jobs.models import ReviewJob
from app.jobs.reading import (
    ConfigProblem,
    assignment_for,
    authorise_command,
    fetch_change,
    open_pull_for,
    pull_text,
)
from app.ledger import Ledger, StoredReview
from app.metrics import Metrics
from app.render import check_output, failure_output
from app.review.assignment import Assignment
from app.review.engine import (
    AssessmentCache,
    ReviewPlan,
    assessment_from_json,
    assessment_to_json,
    is_late,
    review_submission,
)
from app.review.llm import LLMAssessment, LLMReviewer
from app.review.models import Review, Reviewer, ReviewError, Submission

log = logging.getLogger(__name__)


LLMFactory = Callable[[Assignment], tuple[LLMReviewer | None, str]]


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    api_url: str
    check_run_name: str
    max_file_bytes: int
    max_archive_bytes: int
    review_timeout: float = 600.0


class Superseded(Exception):
    """A newer commit of the same PR or branch arrived; only the newest head is reviewed."""

    def __init__(self, newer_head: str) -> None:
        super().__init__(newer_head)
        self.newer_head = newer_head


class Runner:
    def __init__(
        self,
        *,
        config: RunnerConfig,
        http: httpx2.AsyncClient,
        tokens: TokenCache | None,
        ledger: Ledger,
        reviewers: Callable[[ReviewJob], Sequence[Reviewer]],
        llm: LLMFactory | None = None,
        prices: dict[str, tuple[float, float]] | None = None,
        metrics: Metrics | None = None,
        assignments: AssignmentSource | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.http = http
        self.tokens = tokens
        self.ledger = ledger
        self.reviewers = reviewers
        self.llm = llm
        self.prices = prices or {}
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
        token = await self.tokens.token(self.client(), installation_id)
        return self.client(token, installation_id)

    # --- the job -----------------------------------------------------------------------------

    async def run(self, stored: StoredReview) -> None:
        self.metrics.in_flight.inc()
        try:
            await self._run(stored)
        finally:
            self.metrics.in_flight.dec()

    async def _run(self, stored: StoredReview) -> None:
        job = stored.job
        started = time.monotonic()
        try:
            gh = await self.installation_client(job.installation_id)
        except EXPECTED_FAILURES as exc:
            # Without a token there is no check run to complete; the ledger says why.
            log.error("review %s: cannot authenticate: %s", stored.id, exc)
            self.metrics.failures.labels(kind="auth").inc()
            await self.ledger.finish(stored.id, state="failed", conclusion=None, error=str(exc))
            return
        check_run_id = stored.check_run_id
        try:
            if job.comment_id is not None and not job.head_sha:
                allowed = await authorise_command(gh, job)
                if allowed is None:
                    await self.ledger.finish(
                        stored.id, state="done", conclusion=None,
                        error=f"/review by {job.sender} ignored: no write access or PR closed",
                    )
                    return
                job = allowed
                stored = replace(stored, job=job)
                await self.ledger.set_job(stored.id, job)
            assignment = await assignment_for(gh, self.assignments, job)
            if assignment is None:
                log.info("review %s: %s matches no assignment; not reviewed", stored.id, job.repo)
                await self.ledger.finish(
                    stored.id,
                    state="done",
                    conclusion=None,
                    error="the repository matches no assignment",
                )
                return
            if job.kind == "push" and await open_pull_for(gh, job):
                await self.ledger.finish(
                    stored.id,
                    state="done",
                    conclusion=None,
                    error="an open pull request covers this branch",
                )
                return
            await self.checkpoint(stored)
            if check_run_id is None:
                check_run_id = await start_check_run(
                    gh,
                    job.repo,
                    job.head_sha,
                    name=self.config.check_run_name,
                    external_id=job.external_id,
                    reuse=stored.attempts > 1,
                )
                await self.ledger.set_check_run(stored.id, check_run_id)
            try:
                async with asyncio.timeout(self.config.review_timeout):
                    review = await self.review(gh, job, assignment)
            except TimeoutError as exc:
                raise ReviewError(
                    f"The review took longer than {self.config.review_timeout:g} seconds and "
                    "was stopped (REVIEW_TIMEOUT_SECONDS)."
                ) from exc
            await self.checkpoint(stored)
            show_score = assignment.feedback.show_score_to_candidate or not assignment.reviewer_repo
            output = check_output(review, show_score=show_score)
            await complete_check_run(gh, job.repo, check_run_id, output)
            extras_error = await deliver_extras(
                gh, self.ledger, self.metrics, stored.id, job, assignment, review
            )
        except Superseded as exc:
            await self._superseded(gh, stored, check_run_id, exc.newer_head)
            return
        except ConfigProblem as exc:
            await self._config_problem(gh, stored, check_run_id, str(exc))
            return
        except EXPECTED_FAILURES as exc:
            self.metrics.failures.labels(kind=type(exc).__name__).inc()
            await self._fail(gh, stored, check_run_id, failure_sentence(exc))
            return
        except Exception as exc:
            # The job boundary: a bug must not leave the check run in progress. It is logged
            # with its traceback and counted, not hidden.
            log.exception("review %s crashed", stored.id)
            self.metrics.failures.labels(kind="internal").inc()
            await self._fail(
                gh,
                stored,
                check_run_id,
                f"Relo Review hit an internal error ({type(exc).__name__}); the operators "
                "have the details in the service log.",
            )
            return
        await self._record(
            stored, job, assignment, review, output.conclusion, started, extras_error
        )

    async def _record(
        self,
        stored: StoredReview,
        job: ReviewJob,
        assignment: Assignment,
        review: Review,
        conclusion: str,
        started: float,
        error: str | None = None,
    ) -> None:
        total = review.total
        prompt = sum(u.prompt_tokens for u in review.usage)
        completion = sum(u.completion_tokens for u in review.usage)
        for u in review.usage:
            self.metrics.llm_tokens.labels(model=u.model, kind="prompt").inc(u.prompt_tokens)
            self.metrics.llm_tokens.labels(model=u.model, kind="completion").inc(
                u.completion_tokens
            )
        if review.usage:
            self.metrics.llm_cost.labels(model=review.usage[0].model).inc(review.cost_usd)
        self.metrics.reviews.labels(state="done").inc()
        self.metrics.review_seconds.observe(time.monotonic() - started)
        await self.ledger.finish(
            stored.id,
            state="done",
            conclusion=conclusion,
            error=error,
            assignment=assignment.id,
            score=total[0] if total else None,
            points=total[1] if total else None,
            scores={s.criterion_id: s.score for s in review.scores} if review.scores else None,
            flags=len(review.flags) + sum(1 for f in review.findings if f.source == "injection"),
            late=is_late(assignment, parse_time(job.received_at)),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=review.cost_usd,
            found=review.findings,
        )

    async def checkpoint(self, stored: StoredReview) -> None:
        newer = await self.ledger.newer_head(stored.id, stored.job.subject)
        if newer is not None and newer != stored.job.head_sha:
            raise Superseded(newer)

    async def _superseded(
        self, gh: GitHubClient, stored: StoredReview, check_run_id: int | None, newer: str
    ) -> None:
        log.info("review %s superseded by a review of %s", stored.id, newer[:7])
        await self._conclude(
            gh, stored, check_run_id,
            create=False,  # nothing was posted for this head yet: leave it so
            conclusion="cancelled",
            title="Superseded by a newer commit",
            summary=(
                f"A newer commit ({newer[:7]}) arrived while this one was being reviewed; "
                "only the newest commit is reviewed."
            ),
        )
        await self.ledger.finish(stored.id, state="superseded", conclusion="cancelled")

    async def _config_problem(
        self, gh: GitHubClient, stored: StoredReview, check_run_id: int | None, sentence: str
    ) -> None:
        log.warning("review %s: assignment config problem: %s", stored.id, sentence)
        await self._conclude(
            gh, stored, check_run_id,
            conclusion="action_required",
            title="The assignment configuration needs fixing",
            summary=(
                f"{sentence}\n\nThis submission was not reviewed. An organisation admin can fix "
                "the file in the organisation's `.github` repository, then use **Re-run** on "
                "this check."
            ),
        )
        await self.ledger.finish(
            stored.id, state="failed", conclusion="action_required", error=sentence
        )

    async def _fail(
        self, gh: GitHubClient, stored: StoredReview, check_run_id: int | None, sentence: str
    ) -> None:
        log.warning("review %s failed: %s", stored.id, sentence)
        self.metrics.reviews.labels(state="failed").inc()
        title, summary = failure_output(sentence)
        await self._conclude(
            gh, stored, check_run_id, conclusion="neutral", title=title, summary=summary
        )
        await self.ledger.finish(stored.id, state="failed", conclusion="neutral", error=sentence)

    async def _conclude(
        self,
        gh: GitHubClient,
        stored: StoredReview,
        check_run_id: int | None,
        *,
        conclusion: str,
        title: str,
        summary: str,
        create: bool = True,
    ) -> None:
        """End this review's check run without a review; with `create`, post a completed one
        when work never started, so the reason is visible on the commit."""
        job = stored.job
        try:
            if check_run_id is not None:
                await fail_check_run(
                    gh, job.repo, check_run_id,
                    conclusion=conclusion, title=title, summary=summary,
                )
            elif create and job.head_sha:
                await create_completed_check_run(
                    gh, job.repo, job.head_sha,
                    name=self.config.check_run_name, external_id=job.external_id,
                    conclusion=conclusion, title=title, summary=summary,
                )
        except EXPECTED_FAILURES:
            log.exception("review %s: could not conclude its check run", stored.id)

    # --- reviewing ---------------------------------------------------------------------------

    def cache(self) -> AssessmentCache:
        async def get(key: str) -> LLMAssessment | None:
            text = await self.ledger.cached_assessment(key)
            return assessment_from_json(text) if text is not None else None

        async def put(key: str, assessment: LLMAssessment) -> None:
            await self.ledger.store_assessment(key, assessment_to_json(assessment))

        return get, put

    async def review(self, gh: GitHubClient, job: ReviewJob, assignment: Assignment) -> Review:
        fetched = await fetch_change(gh, job, assignment)
        change = fetched.change
        contents = await fetch_contents(
            self.http,
            api_url=self.config.api_url,
            token=gh.oauth_token or "",
            repo=job.repo,
            ref=job.head_sha,
            paths=[f.path for f in change.files],
            max_file_bytes=self.config.max_file_bytes,
            max_archive_bytes=self.config.max_archive_bytes,
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
        llm, model = self.llm(assignment) if self.llm is not None else (None, "")
        plan = ReviewPlan(
            assignment=assignment,
            reviewers=tuple(self.reviewers(job)),
            llm=llm,
            model=model,
            prices=self.prices,
            fresh=job.fresh,
            received_at=parse_time(job.received_at),
        )
        review = await review_submission(submission, plan, self.cache())
        if contents.too_large:
            review = _with_note(
                review,
                f"{len(contents.too_large)} file(s) over {self.config.max_file_bytes} bytes were "
                "not analysed: " + ", ".join(contents.too_large[:10]) + ".",
            )
        return review


def _with_note(review: Review, note: str) -> Review:
    return replace(review, notes=(*review.notes, note))
