"""The one GitHub client: what it retries, what it refuses to send twice, how it waits and
re-authenticates. Each test asserts what the fake GitHub ends up holding."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest
from gidgethub import BadRequest

from app.github.api import AmbiguousWrite, GitHubClient
from app.github.auth import TokenCache
from app.github.content import fetch_contents
from app.github.fetch import first_commit
from app.github.publish import fail_check_run, start_check_run, upsert_comment
from app.github.reviewers import ReviewerIssueMayExist, publish_reviewer_issue
from app.render import COMMENT_MARKER
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo

REVIEWS = "acme/reviews"
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}


class Waits(list[float]):
    """The client's waits, recorded instead of slept."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def gh(fake_github: FakeGitHub, github_http: httpx2.AsyncClient, waits: Waits) -> GitHubClient:
    return GitHubClient(github_http, base_url=fake_github.base_url,
                        oauth_token=fake_github.issue_token(1), sleep=waits)


@pytest.fixture
def head(tmp_path: Path, fake_github: FakeGitHub) -> str:
    git = make_repo(tmp_path, fake_github)
    git.commit({"app/a.py": "print(1)\n"}, "one", branch="feature")
    head = git.commit({"app/b.py": "print(2)\n"}, "two", branch="feature")
    git.checkout("main")
    fake_github.add_pull(REPO, 1, head_ref="feature")
    return head


# -- every request through the client ---------------------------------------------------------


async def test_link_paging_has_the_clients_retries(
    gh: GitHubClient, fake_github: FakeGitHub, waits: Waits, head: str
) -> None:
    fake_github.fail("GET", r"/commits$", 502)
    starter = fake_github.repos[REPO].git.rev("main")
    assert await first_commit(gh, REPO, head) == starter
    assert len(waits) == 1
    assert fake_github.count("GET", r"/commits$") == 3  # the 502, page 1, the last page


async def test_the_tarball_and_its_download_go_through_the_client(
    fake_github: FakeGitHub, github_http: httpx2.AsyncClient, waits: Waits, head: str
) -> None:
    seen: list[tuple[str, int]] = []
    gh = GitHubClient(github_http, base_url=fake_github.base_url, sleep=waits,
                      oauth_token=fake_github.issue_token(1),
                      on_response=lambda method, status, _: seen.append((method, status)))
    fake_github.fail("GET", r"/tarball/", 502)
    contents = await fetch_contents(gh, repo=REPO, ref=head, paths=["app/a.py", "app/b.py"],
                                    max_file_bytes=1000, max_archive_bytes=10**6)
    assert contents.files == {"app/a.py": b"print(1)\n", "app/b.py": b"print(2)\n"}
    assert seen == [("GET", 502), ("GET", 302), ("GET", 200)] and len(waits) == 1
    [download] = [r for r in fake_github.requests if r.path.startswith("/_codeload/")]
    assert "authorization" not in download.headers  # the signed link gets no token


# -- creations are not repeated blindly -------------------------------------------------------


@pytest.mark.parametrize("lost", [502, 0], ids=["502", "timeout"])
async def test_a_lost_answer_to_a_check_run_post_leaves_one_run(
    gh: GitHubClient, fake_github: FakeGitHub, head: str, lost: int
) -> None:
    fake_github.fail("POST", r"/check-runs$", lost, applied=True)
    run_id = await start_check_run(gh, REPO, head, name="Relo Review", external_id="relo:pr:1")
    await fail_check_run(gh, REPO, run_id, conclusion="neutral", title="t", summary="s")
    [run] = fake_github.runs_for(REPO, head)
    assert (run["id"], run["status"]) == (run_id, "completed")
    assert fake_github.count("POST", r"/check-runs$") == 1


async def test_a_post_github_did_not_apply_is_sent_again_after_looking(
    gh: GitHubClient, fake_github: FakeGitHub, head: str
) -> None:
    fake_github.fail("POST", r"/check-runs$", 503)  # refused, not applied
    fake_github.fail("POST", r"/check-runs$", 0)  # connection refused: never sent
    run_id = await start_check_run(gh, REPO, head, name="Relo Review", external_id="relo:pr:1",
                                   reuse=False)
    [run] = fake_github.runs_for(REPO, head)
    assert run["id"] == run_id
    assert fake_github.count("GET", r"/check-runs$") == 1  # one look, after the 503


async def test_an_earlier_run_with_the_same_external_id_is_not_taken_for_ours(
    gh: GitHubClient, fake_github: FakeGitHub, head: str
) -> None:
    old = await start_check_run(gh, REPO, head, name="Relo Review", external_id="relo:pr:1")
    await fail_check_run(gh, REPO, old, conclusion="neutral", title="t", summary="s")
    fake_github.fail("POST", r"/check-runs$", 502, applied=True)
    new = await start_check_run(gh, REPO, head, name="Relo Review", external_id="relo:pr:1",
                                reuse=False)
    assert new != old
    assert [r["id"] for r in fake_github.runs_for(REPO, head)] == [old, new]


async def test_a_lost_answer_to_the_comment_post_leaves_one_comment(
    gh: GitHubClient, fake_github: FakeGitHub, head: str
) -> None:
    fake_github.fail("POST", r"/issues/1/comments$", 0, applied=True)
    comment_id = await upsert_comment(gh, REPO, 1, f"{COMMENT_MARKER}\nScore")
    [comment] = fake_github.comments_on(REPO, 1)
    assert comment["id"] == comment_id


async def test_other_posts_raise_instead_of_repeating(
    gh: GitHubClient, fake_github: FakeGitHub, head: str
) -> None:
    fake_github.fail("POST", r"/issues/1/comments$", 502, applied=True)
    with pytest.raises(AmbiguousWrite):
        await gh.post(f"/repos/{REPO}/issues/1/comments", data={"body": "hi"})
    assert len(fake_github.comments_on(REPO, 1)) == 1


# -- the reviewers' issue ---------------------------------------------------------------------


@pytest.fixture
def reviews(tmp_path: Path, fake_github: FakeGitHub) -> str:
    make_repo(tmp_path, fake_github, REVIEWS)
    return REVIEWS


async def publish(gh: GitHubClient, known: tuple[int, int | None] | None, body: str) -> Any:
    return await publish_reviewer_issue(gh, known=known, reviewer_repo=REVIEWS, repo=REPO,
                                        title="Backend: acme/task-alice", body=body)


async def test_the_reviewers_issue_is_created_then_its_results_edited(
    gh: GitHubClient, fake_github: FakeGitHub, reviews: str
) -> None:
    number, comment_id = await publish(gh, None, f"{COMMENT_MARKER}\nfirst")
    assert await publish(gh, (number, comment_id), f"{COMMENT_MARKER}\nsecond") == (
        number, comment_id)
    [issue] = fake_github.issues
    [results] = fake_github.comments_on(REVIEWS, issue["number"])
    assert (issue["number"], results["id"], results["body"]) == (
        number, comment_id, f"{COMMENT_MARKER}\nsecond")


async def test_a_lost_answer_to_the_issue_post_is_not_sent_again(
    gh: GitHubClient, fake_github: FakeGitHub, reviews: str
) -> None:
    fake_github.fail("POST", r"/issues$", 502, applied=True)
    with pytest.raises(ReviewerIssueMayExist, match="may have been created"):
        await publish(gh, None, f"{COMMENT_MARKER}\nfirst")
    assert len(fake_github.issues) == 1 and fake_github.count("POST", r"/issues$") == 1


async def test_a_results_comment_posted_but_not_remembered_is_found(
    gh: GitHubClient, fake_github: FakeGitHub, reviews: str
) -> None:
    fake_github.fail("POST", r"/issues/\d+/comments$", 0, applied=True)
    number, comment_id = await publish(gh, None, "no marker in this report")
    again = await publish(gh, (number, None), "updated report")
    [results] = fake_github.comments_on(REVIEWS, number)
    assert again == (number, comment_id) == (number, results["id"])
    assert results["body"] == f"{COMMENT_MARKER}\nupdated report"


# -- waiting and re-authenticating ------------------------------------------------------------


async def test_a_secondary_limit_without_retry_after_waits_at_least_a_minute(
    gh: GitHubClient, fake_github: FakeGitHub, waits: Waits, head: str
) -> None:
    fake_github.fail("GET", r"/pulls/1$", 403, body=SECONDARY, times=2)
    assert (await gh.getitem(f"/repos/{REPO}/pulls/1"))["number"] == 1
    assert waits == [60.0, 120.0]


async def test_a_plain_403_is_still_not_retried(
    gh: GitHubClient, fake_github: FakeGitHub, waits: Waits, head: str
) -> None:
    fake_github.fail("GET", r"/pulls/1$", 403, body={"message": "Resource not accessible"})
    with pytest.raises(BadRequest):
        await gh.getitem(f"/repos/{REPO}/pulls/1")
    assert waits == []


async def test_a_401_swaps_the_installation_token_once(
    fake_github: FakeGitHub, github_http: httpx2.AsyncClient, private_pem: str, head: str
) -> None:
    tokens = TokenCache(app_id="4242", private_key=private_pem)
    app = GitHubClient(github_http, base_url=fake_github.base_url)
    first = await tokens.token(app, 1)

    async def fresh(stale: str) -> str:
        return await tokens.refresh(app, 1, stale)

    gh = GitHubClient(github_http, base_url=fake_github.base_url, oauth_token=first,
                      refresh_token=fresh)
    fake_github.expire_tokens()  # revoked before the hour GitHub promised
    pulls = await asyncio.gather(*(gh.getitem(f"/repos/{REPO}/pulls/1") for _ in range(3)))
    assert [p["number"] for p in pulls] == [1, 1, 1]
    assert fake_github.token_requests[1] == 2  # one new token for the three
    assert gh.oauth_token != first and await tokens.token(app, 1) == gh.oauth_token
    fake_github.fail("GET", r"/pulls/1$", 401, body={"message": "Bad credentials"}, times=5)
    before = fake_github.count("GET", r"/pulls/1$")
    with pytest.raises(BadRequest) as refused:  # a fresh token refused too: no loop
        await gh.getitem(f"/repos/{REPO}/pulls/1")
    assert refused.value.status_code == 401
    assert fake_github.token_requests[1] == 3
    assert fake_github.count("GET", r"/pulls/1$") == before + 2
