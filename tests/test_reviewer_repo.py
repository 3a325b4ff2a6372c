"""Reviewer-only results: scores, flags and lateness go to the private reviewers' repository;
the candidate's repository sees candidate-facing feedback only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.fakes.llm import FakeLLM, good
from tests.scenarios import REPO, make_repo
from tests.support import pull_request_payload

CONFIG = """
assignments:
  - id: backend
    repos: ["task-*"]
    title: Backend take-home
    brief: Build a small API.
    rubric:
      - {id: correctness, description: "Works", points: 40}
      - {id: tests, description: "Tested", points: 20}
    reviewer_repo: acme/reviews
    deadline: "2020-01-01T00:00:00+00:00"
    feedback: {pr_comment: true, show_score_to_candidate: false}
"""


def org_repos(tmp_path: Path, fake: FakeGitHub) -> None:
    dotgithub = GitRepo.init(tmp_path / "dotgithub")
    dotgithub.commit({".github/assignment-review.yml": CONFIG}, "config")
    fake.add_repo("acme/.github", dotgithub, private=True)
    reviews = GitRepo.init(tmp_path / "reviews")
    reviews.commit({"README.md": "private\n"}, "init")
    fake.add_repo("acme/reviews", reviews, private=True)


async def test_scores_go_to_the_reviewers_repo_and_not_to_the_candidate(
    make_settings: Any,
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    fake_llm: FakeLLM,
    tmp_path: Path,
) -> None:
    org_repos(tmp_path, fake_github)
    git = make_repo(tmp_path, fake_github)
    git.commit({"app/a.py": "import sys\n"}, "work", branch="feature")
    git.checkout("main")
    fake_github.add_pull(REPO, 1, head_ref="feature")
    fake_llm.script(*[good() for _ in range(2)])
    payload = pull_request_payload(REPO, 1, head_sha=git.rev("feature"), base_sha=git.rev("main"))
    async with llm_harness_for(make_settings(), github_http, fake_llm) as h:
        await h.deliver("pull_request", payload)
        await h.settle()
        git.commit({"app/a.py": "import sys\nimport os\n"}, "more", branch="feature")
        git.checkout("main")
        payload = pull_request_payload(
            REPO, 1, head_sha=git.rev("feature"), base_sha=git.rev("main"), action="synchronize"
        )
        await h.deliver("pull_request", payload)
        await h.settle()

    runs = fake_github.runs_for(REPO)
    assert len(runs) == 2
    for run in runs:
        assert "Rubric" not in run["output"]["summary"]
        assert not run["output"]["title"].startswith("Score")
    [comment] = fake_github.comments_on(REPO, 1)
    assert "Rubric" not in comment["body"]

    [issue] = fake_github.issues
    assert issue["title"] == f"Backend take-home: {REPO}"
    results = fake_github.comments_on("acme/reviews", issue["number"])
    assert len(results) == 1  # edited in place by the second review
    body = results[0]["body"]
    assert "| correctness | 40 |" in body and "| tests | 20 |" in body
    assert "LATE" in body
    assert git.rev("feature")[:12] in body
