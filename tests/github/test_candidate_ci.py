"""The candidate's own CI, listed for reviewers: other apps' checks on the head, never ours, and
all of it marked untrusted when the submission touched its CI configuration."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from app.github.api import GitHubClient
from app.github.candidate_ci import CheckSummary, candidate_ci, workflows_changed
from app.github.publish import start_check_run
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo

APP_ID = 4242  # the fake's app id: the app under test


@pytest.fixture
def gh(fake_github: FakeGitHub, github_http: httpx2.AsyncClient) -> GitHubClient:
    return GitHubClient(github_http, base_url=fake_github.base_url,
                        oauth_token=fake_github.issue_token(1))


@pytest.fixture
def head(tmp_path: Path, fake_github: FakeGitHub) -> str:
    git = make_repo(tmp_path, fake_github)
    return git.commit({".github/workflows/ci.yml": "on: push\n", "app/a.py": "x = 1\n"},
                      "candidate work")


@pytest.mark.parametrize("changed", [False, True])
async def test_other_apps_checks_are_listed_and_ours_are_not(
    gh: GitHubClient, fake_github: FakeGitHub, head: str, changed: bool
) -> None:
    await start_check_run(gh, REPO, head, name="Relo Review", external_id="relo:push")
    fake_github.other_checks.add(REPO, head, "test", conclusion="success")
    fake_github.other_checks.add(REPO, head, "lint", conclusion="failure")
    fake_github.other_checks.add(REPO, head, "build", app="circleci-checks",
                                 status="in_progress", conclusion=None)
    flow = fake_github.actions.add_workflow(REPO, "ci.yml", name="CI")
    fake_github.actions.add_run(flow, ref=head, event="push")  # its jobs not listed yet
    older = fake_github.repos[REPO].git.rev("main~1")
    fake_github.other_checks.add(REPO, older, "test", conclusion="failure")  # another commit

    listed = await candidate_ci(gh, REPO, head, app_id=APP_ID, workflows_changed=changed)

    assert [(c.app, c.name, c.status, c.conclusion) for c in listed] == [
        ("CircleCI Checks", "build", "in_progress", None),
        ("GitHub Actions", "GitHub Actions", "queued", None),
        ("GitHub Actions", "lint", "completed", "failure"),
        ("GitHub Actions", "test", "completed", "success"),
    ]
    assert all(c.untrusted is changed for c in listed)
    assert listed[2].url.startswith(f"{fake_github.html_url}/{REPO}/runs/")
    assert fake_github.runs_for(REPO, head)[0]["name"] == "Relo Review"  # ours, left out


async def test_a_commit_with_only_our_check_has_no_candidate_ci(
    gh: GitHubClient, fake_github: FakeGitHub, head: str
) -> None:
    await start_check_run(gh, REPO, head, name="Relo Review", external_id="relo:push")
    assert await candidate_ci(gh, REPO, head, app_id=APP_ID, workflows_changed=True) == []


def test_a_change_to_workflows_or_local_actions_makes_ci_untrusted() -> None:
    assert workflows_changed(["app/a.py", ".github/workflows/ci.yml"])
    assert workflows_changed([".github/actions/setup/action.yml"])
    assert not workflows_changed(["app/a.py", ".github/CODEOWNERS", "workflows/ci.yml"])
    assert not workflows_changed([])


def test_a_summary_is_a_plain_value() -> None:
    summary = CheckSummary("GitHub Actions", "test", "completed", "success", "", False)
    with pytest.raises(AttributeError):
        summary.untrusted = True  # type: ignore[misc]
