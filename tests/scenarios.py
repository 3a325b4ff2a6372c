"""The shape most end-to-end tests share: a repository with starter code, a candidate's pull
request on it, and the one check run GitHub ends up holding for a head."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import Harness
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.support import pull_request_payload

REPO = "acme/task-alice"
STARTER: Mapping[str, str] = {
    "README.md": "# Task\n",
    "app/starter.py": "import os\n\n\ndef given():\n    return 1\n",
}


def make_repo(
    tmp_path: Path,
    fake: FakeGitHub,
    name: str = REPO,
    *,
    starter: Mapping[str, str] = STARTER,
) -> GitRepo:
    """A repository with one starter commit on `main`, installed for installation 1."""
    git = GitRepo.init(tmp_path / name.replace("/", "_"))
    git.commit(dict(starter), "starter code")
    fake.add_repo(name, git, installation_id=1)
    return git


def open_pr(
    fake: FakeGitHub,
    git: GitRepo,
    files: Mapping[str, str | bytes | None],
    number: int = 1,
    *,
    repo: str = REPO,
    title: str = "Submission",
    body: str | None = None,
    draft: bool = False,
) -> dict[str, Any]:
    """Commit `files` on `feature`, open PR `number` from it, and return the `opened` payload."""
    git.commit(dict(files), "candidate work", branch="feature")
    git.checkout("main")
    fake.add_pull(repo, number, head_ref="feature", title=title, body=body or "", draft=draft)
    return pull_request_payload(
        repo, number, head_sha=git.rev("feature"), base_sha=git.rev("main"), title=title, body=body
    )


def org_with_reviewers(
    tmp_path: Path, fake: FakeGitHub, config: str, *, reviewers: str = "acme/reviews"
) -> None:
    """The organisation's private `.github` repository holding `config`, and its private
    reviewers' repository (for `reviewer_repo`)."""
    dotgithub = GitRepo.init(tmp_path / "dotgithub")
    dotgithub.commit({".github/assignment-review.yml": config}, "config")
    fake.add_repo("acme/.github", dotgithub, private=True)
    repo = GitRepo.init(tmp_path / "reviews")
    repo.commit({"README.md": "private\n"}, "init")
    fake.add_repo(reviewers, repo, private=True)


def only_run(fake: FakeGitHub, head_sha: str, repo: str = REPO) -> dict[str, Any]:
    runs = fake.runs_for(repo, head_sha)
    assert len(runs) == 1, runs
    return runs[0]


async def ledger_rows(h: Harness) -> list[Any]:
    from app.ledger import reviews

    async with h.services.ledger.engine.connect() as conn:
        result = await conn.execute(sa.select(reviews).order_by(reviews.c.id))
        return list(result.mappings())
