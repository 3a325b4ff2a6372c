"""Similarity across the cohort, end to end: a disguised copy of an earlier submission is found
in the worker (never the webhook), shown to reviewers with the matching regions, exported by
`report`, and never shown to the candidate; an independent solution matches nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2

from app.cli.report import submissions, to_csv
from tests.conftest import llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM, good
from tests.scenarios import ledger_rows, make_repo, open_pr, org_with_reviewers
from tests.test_check_run_feedback import CONFIG as NO_CHECK_RUN_CONFIG

CONFIG = NO_CHECK_RUN_CONFIG.replace("{check_run: false, pr_comment: false}", "{pr_comment: true}")
DATA = Path(__file__).parent / "data" / "similarity" / "python"


async def test_a_disguised_copy_is_found_and_an_independent_solution_is_not(
    make_settings: Any, github_http: httpx2.AsyncClient, fake_github: FakeGitHub,
    fake_llm: FakeLLM, tmp_path: Path,
) -> None:
    org_with_reviewers(tmp_path, fake_github, CONFIG)
    starter = {"app/shortener.py": (DATA / "starter.py").read_text()}
    payloads = []
    for name, fixture in (("alice", "original"), ("bob", "disguised"), ("carol", "independent")):
        repo = f"acme/task-{name}"
        git = make_repo(tmp_path, fake_github, repo, starter=starter)
        files = {"app/shortener.py": (DATA / f"{fixture}.py").read_text()}
        payloads.append((repo, open_pr(fake_github, git, files, repo=repo)))
    async with llm_harness_for(make_settings(), github_http, fake_llm) as h:
        for _, payload in payloads:
            fake_llm.script(good(0.5))
            assert (await h.deliver("pull_request", payload)).status_code == 202
            await asyncio.wait_for(h.settle(), 30)
        rows = {r["repo"]: r for r in await ledger_rows(h)}
        exported = {s.repository: s for s in await submissions(h.services.ledger, "backend")}
    assert rows["acme/task-alice"]["similarity"] is None  # nothing earlier to match
    [top] = json.loads(rows["acme/task-bob"]["similarity"])[:1]
    assert top["repo"] == "acme/task-alice" and top["share"] >= 0.5 and top["regions"]
    carol = json.loads(rows["acme/task-carol"]["similarity"] or "[]")
    assert all(m["repo"] != "acme/task-alice" or m["share"] < 0.1 for m in carol)
    assert "acme/task-alice" in to_csv([exported["acme/task-bob"]])
    bodies = {
        issue["title"]: "\n".join(
            c["body"] for c in fake_github.comments_on("acme/reviews", issue["number"]))
        for issue in fake_github.issues
    }
    [bob] = [body for title, body in bodies.items() if "task-bob" in title]
    assert "Similar submissions" in bob and "task-alice" in bob
    [alice] = [body for title, body in bodies.items() if "task-alice" in title]
    assert "A later submission, `acme/task-bob`" in alice  # both submissions' reviewers know
    assert alice.count("relo-similar:acme/task-bob") == 1
    seen = "".join(c["body"] for c in fake_github.comments_on("acme/task-bob", 1))
    seen += "".join(r["output"]["summary"] for r in fake_github.runs_for("acme/task-bob"))
    assert "Similar" not in seen and "task-alice" not in seen
