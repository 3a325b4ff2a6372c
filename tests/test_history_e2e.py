"""The commit history reaches reviewers (the reviewers' issue, the ledger) as observations,
never the candidate: one commit, a force-push, commits authored by someone else."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2

from tests.conftest import llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM, good
from tests.scenarios import REPO, ledger_rows, make_repo, org_with_reviewers
from tests.support import push_payload
from tests.test_check_run_feedback import CONFIG as NO_CHECK_RUN_CONFIG

CONFIG = NO_CHECK_RUN_CONFIG.replace("{check_run: false, pr_comment: false}", "{pr_comment: true}")


async def test_a_force_pushed_single_commit_is_observed_for_reviewers_only(
    make_settings: Any, github_http: httpx2.AsyncClient, fake_github: FakeGitHub,
    fake_llm: FakeLLM, tmp_path: Path,
) -> None:
    org_with_reviewers(tmp_path, fake_github, CONFIG)
    git = make_repo(tmp_path, fake_github)
    head = git.commit({"app/solution.py": "def solve():\n    return 42\n"}, "everything")
    push = dict(push_payload(REPO, after=head, before="1" * 40), forced=True)
    fake_llm.script(good(0.5))
    async with llm_harness_for(make_settings(), github_http, fake_llm) as h:
        assert (await h.deliver("push", push)).status_code == 202
        await asyncio.wait_for(h.settle(), 30)
        [row] = await ledger_rows(h)
    kinds = {s["kind"] for s in json.loads(row["history"])["signals"]}
    assert {"one_commit", "force_push", "other_authors"} <= kinds
    [issue] = fake_github.issues
    body = "\n".join(c["body"] for c in fake_github.comments_on("acme/reviews", issue["number"]))
    assert "single commit" in body and "force-push" in body
    [run] = fake_github.runs_for(REPO, head)
    assert "force-push" not in run["output"]["summary"] and "single commit" not in (
        run["output"]["summary"])
