"""`/review` from reviewers: only the assignment's reviewers (never a candidate, whatever their
access to the repository), only as a command of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.events import has_review_command
from tests.conftest import Harness
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo, open_pr


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/review", True),
        ("Thanks!\n\n/review\n", True),
        ("  /review please", True),
        ("/reviewer", False),
        ("> /review", False),
        ("```\n/review\n```", False),
        ("~~~\n/review\n~~~", False),
        ("    /review", False),
        ("use `/review` to ask again", False),
        ("please /review", False),
        ("", False),
    ],
)
def test_review_command_detection(body: str, expected: bool) -> None:
    assert has_review_command(body) is expected


def comment_payload(
    user: str, body: str, *, number: int = 1, pr: bool = True, comment_id: int = 777
) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": number, "title": "Submission", "state": "open"}
    if pr:
        issue["pull_request"] = {"url": f"https://api.github.test/repos/{REPO}/pulls/{number}",
                                 "html_url": "", "diff_url": "", "patch_url": "",
                                 "merged_at": None}
    return {
        "action": "created",
        "issue": issue,
        "comment": {"id": comment_id, "body": body, "user": {"login": user, "type": "User"}},
        "repository": {"full_name": REPO, "default_branch": "main"},
        "installation": {"id": 1},
        "sender": {"login": user, "type": "User"},
    }


def seed_pr(fake: FakeGitHub, tmp_path: Path) -> None:
    open_pr(fake, make_repo(tmp_path, fake), {"app/a.py": "import sys\n"})


async def test_review_command_from_an_org_owner_runs_a_fresh_review(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    seed_pr(fake_github, tmp_path)
    fake_github.orgs.set_member("acme", "grader", role="admin")
    comment = fake_github.add_comment(REPO, 1, "/review", user="grader")
    response = await harness.deliver(
        "issue_comment", comment_payload("grader", "/review", comment_id=comment["id"])
    )
    assert response.status_code == 202
    await harness.settle()
    [run] = fake_github.runs_for(REPO)
    assert run["status"] == "completed" and run["annotations"]
    assert [r["content"] for r in fake_github.reactions] == ["eyes"]


@pytest.mark.parametrize("access", ["read", "write", "admin"])
async def test_review_command_from_a_candidate_is_ignored_whatever_their_access(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path, access: str
) -> None:
    """GitHub Classroom and template repositories give candidates write or admin access."""
    seed_pr(fake_github, tmp_path)
    fake_github.set_permission(REPO, "candidate", access)
    fake_github.orgs.set_member("acme", "candidate")  # an ordinary member of the org
    comment = fake_github.add_comment(REPO, 1, "/review", user="candidate")
    await harness.deliver(
        "issue_comment", comment_payload("candidate", "/review", comment_id=comment["id"])
    )
    await harness.settle()
    assert fake_github.check_runs == [] and fake_github.reactions == []


async def test_the_prs_author_is_never_its_reviewer_even_as_an_owner(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    seed_pr(fake_github, tmp_path)  # opened by octocat
    fake_github.orgs.set_member("acme", "octocat", role="admin")
    comment = fake_github.add_comment(REPO, 1, "/review", user="octocat")
    await harness.deliver(
        "issue_comment", comment_payload("octocat", "/review", comment_id=comment["id"])
    )
    await harness.settle()
    assert fake_github.check_runs == []


async def test_comments_without_a_command_do_nothing(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    seed_pr(fake_github, tmp_path)
    for payload in (
        comment_payload("grader", "> /review"),
        comment_payload("grader", "/review", pr=False),
    ):
        assert (await harness.deliver("issue_comment", payload)).json()["status"] == "ignored"
    await harness.settle()
    assert fake_github.requests == []
