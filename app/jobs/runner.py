"""Running one review job: the I/O shell around the pure pipeline.

Every path out of `run` leaves the check run completed: a review that cannot be done ends with
a conclusion and a sentence, and the ledger records why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx2
from gidgethub import HTTPException

from app.github.api import GitHubClient, GitHubUnavailable
from app.github.auth import AuthError, TokenCache
from app.github.content import ContentError, fetch_contents
from app.github.fetch import BaselineError, Fetched, compare, resolve_baseline
from app.github.publish import (
    complete_check_run,
    fail_check_run,
    start_check_run,
    upsert_comment,
)
from app.jobs.models import ReviewJob
from app.ledger import Ledger, StoredReview
from app.render import check_output, comment_body, failure_output
from app.review.models import Review, Reviewer, ReviewError, Submission
from app.review.pipeline import anchor, merge_findings

log = logging.getLogger(__name__)

EXPECTED_FAILURES = (
    ReviewError,
    ContentError,
    BaselineError,
    GitHubUnavailable,
    AuthError,
    HTTPException,
    httpx2.HTTPError,
)


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    api_url: str
    check_run_name: str
    max_file_bytes: int
    max_archive_bytes: int


class Runner:
    def __init__(
        self,
        *,
        config: RunnerConfig,
        http: httpx2.AsyncClient,
        tokens: TokenCache | None,
        ledger: Ledger,
        reviewers: Callable[[ReviewJob], Sequence[Reviewer]],
    ) -> None:
        self.config = config
        self.http = http
        self.tokens = tokens
        self.ledger = ledger
        self.reviewers = reviewers

    def client(self, token: str | None = None) -> GitHubClient:
        return GitHubClient(self.http, base_url=self.config.api_url, oauth_token=token)

    async def installation_client(self, installation_id: int) -> GitHubClient:
        if self.tokens is None:
            raise AuthError("The GitHub App is not configured (GITHUB_APP_ID and a private key).")
        token = await self.tokens.token(self.client(), installation_id)
        return self.client(token)

    async def run(self, stored: StoredReview) -> None:
        job = stored.job
        try:
            gh = await self.installation_client(job.installation_id)
        except EXPECTED_FAILURES as exc:
            # Without a token there is no check run to complete; the ledger says why.
            log.error("review %s: cannot authenticate: %s", stored.id, exc)
            await self.ledger.finish(stored.id, state="failed", conclusion=None, error=str(exc))
            return
        check_run_id = stored.check_run_id
        try:
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
            review = await self.review(gh, job)
            output = check_output(review)
            await complete_check_run(gh, job.repo, check_run_id, output)
            if job.number is not None:
                await upsert_comment(
                    gh, job.repo, job.number, comment_body(review, show_score=True)
                )
        except EXPECTED_FAILURES as exc:
            await self._fail(gh, stored, check_run_id, _sentence(exc))
            return
        except Exception as exc:
            # The job boundary: a bug must not leave the check run in progress. It is logged
            # with its traceback and recorded, not hidden.
            log.exception("review %s crashed", stored.id)
            await self._fail(
                gh, stored, check_run_id,
                f"Relo Review hit an internal error ({type(exc).__name__}); the operators "
                "have the details in the service log.",
            )
            return
        total = review.total
        await self.ledger.finish(
            stored.id,
            state="done",
            conclusion=output.conclusion,
            score=total[0] if total else None,
            points=total[1] if total else None,
            flags=len(review.flags),
            found=review.findings,
        )

    async def _fail(
        self, gh: GitHubClient, stored: StoredReview, check_run_id: int | None, sentence: str
    ) -> None:
        log.warning("review %s failed: %s", stored.id, sentence)
        if check_run_id is not None:
            title, summary = failure_output(sentence)
            try:
                await fail_check_run(
                    gh, stored.job.repo, check_run_id,
                    conclusion="neutral", title=title, summary=summary,
                )
            except EXPECTED_FAILURES:
                log.exception("review %s: could not complete check run %s", stored.id,
                              check_run_id)
        await self.ledger.finish(stored.id, state="failed", conclusion="neutral", error=sentence)

    async def fetch(self, gh: GitHubClient, job: ReviewJob) -> Fetched:
        if job.kind == "pull_request" and job.base_sha:
            return await compare(gh, job.repo, job.base_sha, job.head_sha, pull_number=job.number)
        base = await resolve_baseline(gh, job.repo, job.head_sha, "first-commit")
        return await compare(gh, job.repo, base, job.head_sha)

    async def review(self, gh: GitHubClient, job: ReviewJob) -> Review:
        fetched = await self.fetch(gh, job)
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
        submission = Submission(
            repo=job.repo,
            change=change,
            contents=contents.files,
            commit_messages=fetched.commit_messages,
        )
        results = [await reviewer.review(submission) for reviewer in self.reviewers(job)]
        merged = merge_findings(*(r.findings for r in results))
        on_diff, outside = anchor(merged, change)
        notes = tuple(n for r in results for n in r.notes)
        if contents.too_large:
            notes += (
                f"{len(contents.too_large)} file(s) over {self.config.max_file_bytes} bytes were "
                "not analysed: " + ", ".join(contents.too_large[:10]),
            )
        return Review(
            head_sha=job.head_sha,
            findings=on_diff,
            outside_diff=outside,
            skipped=change.skipped,
            files_reviewed=len(change.files),
            notes=notes,
        )


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, HTTPException):
        return (
            f"GitHub answered {int(exc.status_code)} ({exc}) while the review was being "
            "prepared or posted."
        )
    if isinstance(exc, httpx2.HTTPError):
        return f"GitHub could not be reached ({type(exc).__name__})."
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else text + "."
