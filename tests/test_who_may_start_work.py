"""Who may start work that costs the organisation or moves a grade: reviewers are who the
organisation says they are; anyone else's re-run re-publishes the stored result without calling
the LLM; re-runs are limited per submission; other apps' check runs and replayed deliveries
bill nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from app.config import Settings
from tests.conftest import Harness, llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.llm import FakeLLM, good
from tests.test_assignment_e2e import (
    ORG,
    REPO,
    config,
    ledger_rows,
    make_repo,
    open_pr,
    org_config,
    rubric_rows,
)

GUARD = 30.0
WORK = {"app/shortener.py": "def shorten(url):\n    return url[:8]\n"}


@pytest.fixture
async def h(
    make_settings: Callable[..., Settings], github_http: httpx2.AsyncClient, fake_llm: FakeLLM
) -> AsyncIterator[Harness]:
    settings = make_settings(openai_model="gpt-4o-mini", github_app_id="4242")
    async with llm_harness_for(settings, github_http, fake_llm) as harness:
        yield harness


async def reviewed(
    h: Harness, fake: FakeGitHub, llm: FakeLLM, tmp_path: Path, extra: str = ""
) -> dict[str, Any]:
    org_config(tmp_path, fake, config(extra=extra))
    payload = open_pr(fake, make_repo(tmp_path, fake), WORK)
    llm.script(good(0.5))
    assert (await h.deliver("pull_request", payload)).status_code == 202
    await asyncio.wait_for(h.settle(), GUARD)
    assert len(llm.requests) == 1
    return payload


def rerun(payload: dict[str, Any], sender: str, *, app_id: int = 4242) -> dict[str, Any]:
    pr = payload["pull_request"]
    return {
        "action": "rerequested",
        "check_run": {
            "id": 1, "head_sha": pr["head"]["sha"], "name": "Relo Review",
            "external_id": "relo:pr:1", "app": {"id": app_id, "slug": "relo-review"},
            "check_suite": {"head_branch": pr["head"]["ref"]},
            "pull_requests": [{"number": 1, "base": {"sha": pr["base"]["sha"]}}],
        },
        "repository": payload["repository"],
        "installation": {"id": 1},
        "sender": {"login": sender, "type": "User"},
    }


async def deliver(h: Harness, event: str, payload: dict[str, Any]) -> None:
    assert (await h.deliver(event, payload)).status_code == 202
    await asyncio.wait_for(h.settle(), GUARD)


async def test_a_candidates_rerun_republishes_the_stored_grade_without_the_llm(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload = await reviewed(h, fake_github, fake_llm, tmp_path)
    fake_github.set_permission(REPO, "alice", "admin")  # Classroom gives candidates admin
    fake_llm.script(good(1.0))  # what a re-roll would get, if it were allowed
    for _ in range(3):
        await deliver(h, "check_run", rerun(payload, "alice"))
    assert len(fake_llm.requests) == 1
    runs = fake_github.runs_for(REPO, payload["pull_request"]["head"]["sha"])
    assert len(runs) == 4
    totals = {rubric_rows(r["output"]["summary"])["Total"][1] for r in runs}
    assert totals == {"**50**"}


async def test_a_reviewer_from_the_config_gets_a_fresh_grade(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload = await reviewed(
        h, fake_github, fake_llm, tmp_path, extra="    reviewers: {teams: [graders]}\n"
    )
    fake_github.orgs.set_team_member(ORG, "graders", "grace")
    fake_llm.script(good(1.0))
    await deliver(h, "check_run", rerun(payload, "grace"))
    assert len(fake_llm.requests) == 2
    latest = fake_github.runs_for(REPO, payload["pull_request"]["head"]["sha"])[-1]
    assert rubric_rows(latest["output"]["summary"])["Total"][1] == "**100**"


async def test_a_reviewer_who_committed_to_the_submission_gets_no_fresh_grade(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The fake names a commit's author by its name: "Ada Candidate" -> "ada-candidate".
    payload = await reviewed(h, fake_github, fake_llm, tmp_path)
    fake_github.orgs.set_member(ORG, "ada-candidate", role="admin")
    fake_llm.script(good(1.0))
    await deliver(h, "check_run", rerun(payload, "ada-candidate"))
    assert len(fake_llm.requests) == 1


async def test_reruns_of_one_submission_are_limited(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload = await reviewed(
        h, fake_github, fake_llm, tmp_path, extra="    reviewers: {reruns_per_hour: 2}\n"
    )
    for _ in range(3):
        await deliver(h, "check_run", rerun(payload, "alice"))
    rows = await ledger_rows(h)
    assert rows[-1]["error"] == "re-runs of this submission are limited to 2 an hour"
    assert len(fake_github.runs_for(REPO, payload["pull_request"]["head"]["sha"])) == 3


async def test_another_apps_check_run_starts_nothing(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload = await reviewed(h, fake_github, fake_llm, tmp_path)
    before = len(fake_github.requests)
    response = await h.deliver("check_run", rerun(payload, "grace", app_id=15368))
    assert response.json()["status"] == "ignored"
    action = dict(rerun(payload, "grace", app_id=15368), action="requested_action",
                  requested_action={"identifier": "rerun"})
    assert (await h.deliver("check_run", action)).json()["status"] == "ignored"
    await asyncio.wait_for(h.settle(), GUARD)
    assert len(fake_github.requests) == before


async def test_a_replayed_delivery_does_not_bill_the_llm_again(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload = await reviewed(h, fake_github, fake_llm, tmp_path)
    fake_llm.script(good(1.0))
    for n in range(2):  # the same payload under new delivery ids
        assert (await h.deliver("pull_request", payload, delivery=f"replay-{n}")).status_code == 202
        await asyncio.wait_for(h.settle(), GUARD)
    assert len(fake_llm.requests) == 1
