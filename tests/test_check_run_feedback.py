"""`feedback: {check_run: false}`: the organisation wants no check run on the candidate's
commits at all — results go only where the config sends them (here the reviewers' issue)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM, good
from tests.scenarios import REPO, ledger_rows, make_repo, open_pr, org_with_reviewers

CONFIG = """
assignments:
  - id: backend
    repos: ["task-*"]
    title: Backend take-home
    rubric:
      - {id: correctness, description: "Works", points: 40}
    reviewer_repo: acme/reviews
    feedback: {check_run: false, pr_comment: false}
"""


async def test_check_run_false_posts_no_check_run_and_results_still_reach_reviewers(
    make_settings: Any,
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    fake_llm: FakeLLM,
    tmp_path: Path,
) -> None:
    org_with_reviewers(tmp_path, fake_github, CONFIG)
    payload = open_pr(fake_github, make_repo(tmp_path, fake_github), {"app/a.py": "x = 1\n"})
    fake_llm.script(good(0.75))
    async with llm_harness_for(make_settings(), github_http, fake_llm) as h:
        assert (await h.deliver("pull_request", payload)).status_code == 202
        await asyncio.wait_for(h.settle(), 30)
        [row] = await ledger_rows(h)
    assert fake_github.check_runs == []
    assert fake_github.comments_on(REPO, 1) == []
    [issue] = fake_github.issues
    assert issue["repository"].lower() == "acme/reviews"
    assert row["state"] == "done" and row["score"] == 30
