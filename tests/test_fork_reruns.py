"""Re-running a fork PR's check: GitHub's check payloads for forks carry `pull_requests: []`
and `head_branch: null`, yet the re-run must review the PR (its base, its comment), not a push
of ref None against the repository's first commit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.conftest import Harness
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo, open_pr

GUARD = 30.0


def _fork_rerun(event: str, head: str, external_id: str) -> dict[str, Any]:
    common = {
        "repository": {"full_name": REPO, "default_branch": "main"},
        "installation": {"id": 1},
        "action": "rerequested",
    }
    if event == "check_run":
        return {**common, "check_run": {
            "id": 1, "head_sha": head, "name": "Relo Review", "external_id": external_id,
            "check_suite": {"head_branch": None}, "pull_requests": [],
        }}
    return {**common, "check_suite": {
        "id": 1, "head_sha": head, "head_branch": None, "pull_requests": [],
    }}


async def _reviewed_pr(harness: Harness, fake: FakeGitHub, tmp_path: Path) -> tuple[str, str]:
    git = make_repo(tmp_path, fake)
    base = git.commit({"app/later.py": "x = 1\n"}, "more starter code")  # base != first commit
    payload = open_pr(fake, git, {"app/a.py": "import sys\n"})
    assert (await harness.deliver("pull_request", payload)).status_code == 202
    await asyncio.wait_for(harness.settle(), GUARD)
    return payload["pull_request"]["head"]["sha"], base


async def test_a_fork_prs_check_run_rerun_reviews_the_pr(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    head, base = await _reviewed_pr(harness, fake_github, tmp_path)
    payload = _fork_rerun("check_run", head, "relo:pr:1")
    assert (await harness.deliver("check_run", payload)).status_code == 202
    await asyncio.wait_for(harness.settle(), GUARD)
    runs = fake_github.runs_for(REPO, head)
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)
    assert fake_github.count("GET", rf"/compare/{base}\.\.\.{head}") == 2  # the PR's own base
    [comment] = fake_github.comments_on(REPO, 1)  # the PR's comment, edited
    assert "relo-review" in comment["body"]


async def test_a_fork_prs_suite_rerun_reviews_the_pr_it_was_reviewed_as(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    head, base = await _reviewed_pr(harness, fake_github, tmp_path)
    assert (await harness.deliver("check_suite", _fork_rerun("check_suite", head, ""))
            ).status_code == 202
    await asyncio.wait_for(harness.settle(), GUARD)
    runs = fake_github.runs_for(REPO, head)
    assert len(runs) == 2, runs
    assert [r["output"]["title"] for r in runs] == [runs[0]["output"]["title"]] * 2
    assert fake_github.count("GET", rf"/compare/{base}\.\.\.{head}") == 2
    assert len(fake_github.comments_on(REPO, 1)) == 1
