"""GitHub misbehaving: each fault below ends with the state GitHub must hold — one check run per
head, completed, and one summary comment. Waits are recorded, never slept."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from app.config import Settings
from tests.conftest import Harness, harness_for
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo, open_pr
from tests.support import pull_request_payload


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.on_wait: Any = None

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self.on_wait is not None:
            self.on_wait()


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
async def faulty(
    make_settings: Any, github_http: httpx2.AsyncClient, waits: Waits
) -> AsyncIterator[Harness]:
    settings: Settings = make_settings()
    async with harness_for(settings, github_http, github_sleep=waits) as h:
        yield h


async def review_pr(
    h: Harness, fake: FakeGitHub, tmp_path: Path, files: dict[str, str | bytes | None] | None = None
) -> dict[str, Any]:
    payload = open_pr(fake, make_repo(tmp_path, fake), files or {"app/a.py": "import sys\n"})
    assert (await h.deliver("pull_request", payload)).status_code == 202
    await h.settle()
    [run] = fake.runs_for(REPO)
    assert run["status"] == "completed"
    return run


async def test_5xx_and_connection_errors_are_retried_with_backoff(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    fake_github.fail("GET", r"/compare/", 502, times=2)
    fake_github.fail("PATCH", r"/check-runs/", 0, times=1)
    run = await review_pr(faulty, fake_github, tmp_path)
    assert run["conclusion"] == "neutral" and run["annotations"]
    assert len(waits.seconds) == 3 and all(0 <= s <= 30 for s in waits.seconds)
    assert len(fake_github.comments_on(REPO, 1)) == 1


async def test_github_down_for_good_ends_the_check_run_with_a_sentence(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    fake_github.fail("GET", r"/compare/", 503, times=50)
    run = await review_pr(faulty, fake_github, tmp_path)
    assert run["conclusion"] == "neutral"
    assert "GitHub answered 503" in run["output"]["summary"]
    assert run["actions"][0]["label"] == "Re-run review"
    assert len(waits.seconds) == 4  # five attempts
    states = await faulty.services.ledger.review_states()
    assert states == {"failed": 1}


async def test_secondary_rate_limit_obeys_retry_after(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    fake_github.fail(
        "POST", r"/check-runs$", 403, times=1, headers={"retry-after": "7"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    fake_github.fail("GET", r"/compare/", 429, times=1, headers={"retry-after": "3"})
    run = await review_pr(faulty, fake_github, tmp_path)
    assert run["conclusion"] == "neutral"
    assert waits.seconds == [7.0, 3.0]


async def test_rate_limit_without_retry_after_waits_for_the_reset(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    reset = int(time.time()) + 120
    fake_github.fail(
        "GET", r"/compare/", 403, times=1,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset),
                 "x-ratelimit-limit": "5000"},
    )
    await review_pr(faulty, fake_github, tmp_path)
    assert len(waits.seconds) == 1 and 100 <= waits.seconds[0] <= 121


async def test_a_nearly_spent_installation_waits_for_the_reset_instead_of_failing(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    fake_github.rate_remaining[1] = 12
    fake_github.rate_reset[1] = int(time.time()) + 600

    def reset() -> None:
        fake_github.rate_remaining[1] = 5000

    waits.on_wait = reset
    run = await review_pr(faulty, fake_github, tmp_path)
    assert run["conclusion"] == "neutral"
    assert len(waits.seconds) == 1 and 500 <= waits.seconds[0] <= 601


async def test_a_plain_403_is_not_retried(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    fake_github.fail("GET", r"/compare/", 403, times=1, body={"message": "Resource not accessible"})
    run = await review_pr(faulty, fake_github, tmp_path)
    assert waits.seconds == []
    assert "GitHub answered 403" in run["output"]["summary"]


async def test_an_inline_comment_github_refuses_is_dropped_and_the_rest_posted(
    make_settings: Any, github_http: httpx2.AsyncClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    from app.github.api import GitHubClient
    from app.github.publish import post_inline_comments
    from app.review.models import Finding, Severity

    git = make_repo(tmp_path, fake_github)
    git.commit({"app/a.py": "import sys\nimport os\nimport re\n"}, "work", branch="feature")
    git.checkout("main")
    fake_github.add_pull(REPO, 1, head_ref="feature")
    token = fake_github.issue_token(1)
    gh = GitHubClient(github_http, base_url=fake_github.base_url, oauth_token=token)
    findings = [
        Finding("app/a.py", line, line, Severity.WARNING, "F401", f"unused {line}")
        for line in (1, 2, 3)
    ]
    # GitHub refuses the batch, then one single comment.
    fake_github.fail("POST", r"/pulls/1/reviews$", 422, times=1, body={
        "message": "Unprocessable Entity", "errors": ["Line could not be resolved"],
        "status": "422", "documentation_url": "https://docs.github.com/rest"})
    fake_github.fail("POST", r"/pulls/1/comments$", 422, times=1, body={
        "message": "Unprocessable Entity", "errors": ["Line could not be resolved"],
        "documentation_url": "https://docs.github.com/rest"})
    posted = await post_inline_comments(gh, REPO, 1, git.rev("feature"), findings)
    assert posted == 2
    assert sorted(c["line"] for c in fake_github.review_comments.values()) == [2, 3]
    # A second run posts nothing twice.
    assert await post_inline_comments(gh, REPO, 1, git.rev("feature"), findings[1:]) == 0


async def test_a_review_that_runs_too_long_is_stopped_with_a_sentence(
    make_settings: Any, github_http: httpx2.AsyncClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    import asyncio

    class Stuck:
        name = "stuck"

        async def review(self, submission: Any) -> Any:
            await asyncio.Event().wait()  # never set: only the timeout ends this

    settings: Settings = make_settings(review_timeout_seconds=0.2)
    async with harness_for(settings, github_http, reviewers=lambda job: (Stuck(),)) as h:
        run = await review_pr(h, fake_github, tmp_path)
    assert run["conclusion"] == "neutral"
    assert "took longer than 0.2 seconds" in run["output"]["summary"]


# -- lost answers, secondary limits, revoked tokens --------------------------------------------

SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
             "before you try again."}
NOT_REVIEWED = "The review could not be completed"


async def test_a_lost_answer_to_the_check_run_post_leaves_one_completed_run(
    faulty: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.fail("POST", r"/check-runs$", 502, applied=True)
    run = await review_pr(faulty, fake_github, tmp_path)  # exactly one run, completed
    assert run["conclusion"] == "neutral" and run["output"]["title"] != NOT_REVIEWED
    assert run["annotations"] and fake_github.count("POST", r"/check-runs$") == 1
    assert len(fake_github.comments_on(REPO, 1)) == 1


async def test_a_lost_answer_to_the_comment_post_leaves_one_comment(
    faulty: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.fail("POST", r"/issues/1/comments$", 0, applied=True)
    run = await review_pr(faulty, fake_github, tmp_path)
    assert run["output"]["title"] != NOT_REVIEWED
    [comment] = fake_github.comments_on(REPO, 1)
    assert "Relo Review" in comment["body"]
    assert fake_github.count("POST", r"/issues/1/comments$") == 1


async def test_a_secondary_limit_without_retry_after_waits_a_minute(
    faulty: Harness, fake_github: FakeGitHub, waits: Waits, tmp_path: Path
) -> None:
    fake_github.fail("GET", r"/compare/", 403, body=SECONDARY)
    run = await review_pr(faulty, fake_github, tmp_path)
    assert run["output"]["title"] != NOT_REVIEWED
    assert waits.seconds == [60.0]


async def test_an_installation_token_revoked_early_is_replaced_once(
    faulty: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    payload = open_pr(fake_github, git, {"app/a.py": "import sys\n"})
    await faulty.deliver("pull_request", payload)
    await faulty.settle()
    fake_github.expire_tokens()  # the cached token is still "valid" for most of an hour
    git.commit({"app/a.py": "import os\n"}, "more", branch="feature")
    git.checkout("main")
    payload = pull_request_payload(
        REPO, 1, head_sha=git.rev("feature"), base_sha=git.rev("main"), action="synchronize"
    )
    await faulty.deliver("pull_request", payload)
    await faulty.settle()
    runs = fake_github.runs_for(REPO)
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert runs[1]["output"]["title"] != NOT_REVIEWED
    assert fake_github.token_requests[1] == 2
