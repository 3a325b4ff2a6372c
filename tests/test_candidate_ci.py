"""The candidate's own CI reaches reviewers as information only, marked untrusted when the
submission changed its workflows; the candidate's repository never shows it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM, good
from tests.scenarios import REPO, make_repo, open_pr, org_with_reviewers
from tests.test_check_run_feedback import CONFIG as NO_CHECK_RUN_CONFIG

CONFIG = NO_CHECK_RUN_CONFIG.replace("{check_run: false, pr_comment: false}", "{pr_comment: true}")


@pytest.mark.parametrize("changes_workflow", [False, True])
async def test_the_candidates_ci_is_listed_for_reviewers(
    make_settings: Any, github_http: httpx2.AsyncClient, fake_github: FakeGitHub,
    fake_llm: FakeLLM, tmp_path: Path, changes_workflow: bool,
) -> None:
    org_with_reviewers(tmp_path, fake_github, CONFIG)
    files: dict[str, str | bytes | None] = {"app/a.py": "x = 1\n"}
    if changes_workflow:
        files[".github/workflows/ci.yml"] = "on: push\njobs: {}\n"
    payload = open_pr(fake_github, make_repo(tmp_path, fake_github), files)
    head = payload["pull_request"]["head"]["sha"]
    fake_github.other_checks.add(REPO, head, "tests", conclusion="success")
    fake_llm.script(good(0.5))
    async with llm_harness_for(make_settings(), github_http, fake_llm) as h:
        await h.deliver("pull_request", payload)
        await asyncio.wait_for(h.settle(), 30)
    [issue] = fake_github.issues
    body = "\n".join(c["body"] for c in fake_github.comments_on("acme/reviews", issue["number"]))
    assert "The candidate's own CI" in body and "tests: success" in body
    assert ("Untrusted" in body) is changes_workflow
    [run] = fake_github.runs_for(REPO, head)
    seen = run["output"]["summary"] + "".join(c["body"] for c in fake_github.comments_on(REPO, 1))
    assert "own CI" not in seen
