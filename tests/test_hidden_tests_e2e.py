"""Hidden tests end to end: the real app dispatches the grader workflow in the organisation's
private repository, frees its worker while the run goes on, resumes on the `workflow_run`
webhook (or when its wait runs out), and folds the JUnit report into the grade."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from app.cli.report import submissions, to_csv
from app.config import Settings
from app.github.actions import INPUT_NAMES
from app.jobs import tests_phase
from app.ledger import reviews, utcnow
from tests.conftest import Harness, llm_harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.github_actions import WorkflowRun
from tests.fakes.github_ci import workflow_run_event
from tests.fakes.gitrepo import GitRepo
from tests.fakes.llm import FakeLLM, good
from tests.grader_support import PARTIAL_JUNIT
from tests.test_assignment_e2e import (
    REPO,
    config,
    ledger_rows,
    make_repo,
    open_pr,
    org_config,
    rubric_rows,
)

GRADER = "acme/graders"
GUARD = 30.0
TESTS = (
    "    tests:\n"
    "      workflow: {repo: acme/graders, file: grade.yml}\n"
    "      criterion: correctness\n"
    "      candidate_sees: counts\n"
)
WORK = {"app/shortener.py": "def shorten(url):\n    return url[:8]\n"}


def junit_zip(xml: bytes, name: str = "report.xml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, xml)
    return buffer.getvalue()


def suite(passed: int, failed: int = 0, errored: int = 0) -> bytes:
    cases = [f'<testcase classname="t" name="test_ok_{i}" time="0.1"/>' for i in range(passed)]
    cases += [
        f'<testcase classname="t" name="test_bad_{i}"><failure message="wrong"/></testcase>'
        for i in range(failed)
    ]
    cases += [
        f'<testcase classname="t" name="test_err_{i}"><error message="boom"/></testcase>'
        for i in range(errored)
    ]
    total = passed + failed + errored
    return (
        f'<testsuite name="hidden" tests="{total}" failures="{failed}" errors="{errored}">'
        + "".join(cases) + "</testsuite>"
    ).encode()


@pytest.fixture
async def h(
    make_settings: Callable[..., Settings], github_http: httpx2.AsyncClient, fake_llm: FakeLLM
) -> AsyncIterator[Harness]:
    settings = make_settings(openai_model="gpt-4o-mini")
    async with llm_harness_for(settings, github_http, fake_llm) as harness:
        yield harness


def grader(tmp_path: Path, fake: FakeGitHub) -> None:
    repo = GitRepo.init(tmp_path / "graders")
    repo.commit({"hidden/test_task.py": "def test_ok():\n    assert True\n"}, "hidden tests")
    fake.add_repo(GRADER, repo, private=True)
    fake.actions.add_workflow(GRADER, "grade.yml", run_name="grade {correlation}",
                              inputs=INPUT_NAMES)


async def submit(
    h: Harness, fake: FakeGitHub, llm: FakeLLM, tmp_path: Path
) -> tuple[dict[str, Any], WorkflowRun]:
    org_config(tmp_path, fake, config(extra=TESTS))
    grader(tmp_path, fake)
    payload = open_pr(fake, make_repo(tmp_path, fake), WORK)
    llm.script(good(1.0))  # the model would give full marks
    assert (await h.deliver("pull_request", payload)).status_code == 202
    await asyncio.wait_for(h.settle(), GUARD)
    [run] = fake.actions.dispatched(GRADER)
    return payload, run


async def finish(h: Harness, fake: FakeGitHub, run: WorkflowRun, **kwargs: Any) -> None:
    fake.actions.complete_run(run.id, **kwargs)
    event = workflow_run_event(fake, fake.actions.runs[run.id])
    assert (await h.deliver("workflow_run", event)).status_code == 202
    await asyncio.wait_for(h.settle(), GUARD)


def the_run(fake: FakeGitHub, payload: dict[str, Any]) -> dict[str, Any]:
    [run] = fake.runs_for(REPO, payload["pull_request"]["head"]["sha"])
    return run


async def test_the_worker_is_free_while_tests_run_and_the_tests_decide_the_criterion(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload, run = await submit(h, fake_github, fake_llm, tmp_path)
    assert run.inputs["repository"] == REPO
    assert run.inputs["sha"] == payload["pull_request"]["head"]["sha"]
    waiting = the_run(fake_github, payload)
    assert waiting["status"] == "in_progress"
    assert waiting["output"]["title"] == "Hidden tests are running"
    assert [r["state"] for r in await ledger_rows(h)] == ["waiting"]
    assert fake_llm.requests == []  # the model waits for the evidence too

    await finish(h, fake_github, run, artifacts={"junit": junit_zip(suite(3, failed=1))})
    done = the_run(fake_github, payload)
    assert done["status"] == "completed"
    rows = rubric_rows(done["output"]["summary"])
    assert rows["correctness"][1] == "30"  # 40 x 3/4, replacing the model's 40
    assert "| 3 | 1 | 0 | 0 |" in done["output"]["summary"]  # counts, as candidate_sees says
    assert "test_bad_0" not in done["output"]["summary"]  # never the failing names
    [row] = await ledger_rows(h)
    assert row["state"] == "done" and row["scores"] is not None
    assert len(fake_llm.requests) == 1
    [exported] = await submissions(h.services.ledger, "backend-take-home")
    assert exported.tests is not None and exported.tests["counts"]["failed"] == 1
    assert "3/4 passed" in to_csv([exported])
    failing = [c for c in exported.tests["cases"] if c["outcome"] == "failed"]
    assert [(c["name"], c["message"]) for c in failing] == [("test_bad_0", "wrong")]


async def test_a_run_that_never_completes_times_out_without_failing_the_criterion(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload, _ = await submit(h, fake_github, fake_llm, tmp_path)
    # No workflow_run delivery ever comes; the wait runs out after the run's time limit.
    real = tests_phase.hidden_tests

    async def an_hour_later(*args: Any, **kwargs: Any) -> Any:
        return await real(*args, **kwargs, now=datetime.now(UTC) + timedelta(hours=1))

    monkeypatch.setattr("app.jobs.runner.hidden_tests", an_hour_later)
    async with h.services.store.engine.begin() as conn:
        await conn.execute(reviews.update().values(lease_until=utcnow()))  # the wait is over
    await h.services.queue.sweep()
    await asyncio.wait_for(h.settle(), GUARD)
    done = the_run(fake_github, payload)
    assert done["status"] == "completed"
    assert rubric_rows(done["output"]["summary"])["correctness"][1] == "40"  # not a failure
    assert "time limit" in done["output"]["summary"]


@pytest.mark.parametrize(
    ("artifacts", "conclusion"),
    [
        ({}, "success"),  # no artifact
        ({"junit": b"not a zip"}, "success"),
        ({"junit": junit_zip(b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
                             b'<testsuite>&b;</testsuite>')}, "success"),  # an entity bomb
        ({}, "cancelled"),
    ],
)
async def test_no_usable_report_never_scores_the_tests_as_failed(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path,
    artifacts: dict[str, bytes], conclusion: str,
) -> None:
    payload, run = await submit(h, fake_github, fake_llm, tmp_path)
    await finish(h, fake_github, run, conclusion=conclusion, artifacts=artifacts)
    done = the_run(fake_github, payload)
    assert done["status"] == "completed"
    assert rubric_rows(done["output"]["summary"])["correctness"][1] == "40"


async def test_the_samples_real_report_is_scored(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload, run = await submit(h, fake_github, fake_llm, tmp_path)
    await finish(h, fake_github, run, artifacts={"junit": junit_zip(PARTIAL_JUNIT.read_bytes())})
    done = the_run(fake_github, payload)
    assert rubric_rows(done["output"]["summary"])["correctness"][1] != "40"


async def test_a_workflow_run_of_the_candidates_repo_wakes_nothing(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    """The candidate copies the run title into their own workflow and reports success."""
    payload, run = await submit(h, fake_github, fake_llm, tmp_path)
    own = fake_github.actions.add_workflow(REPO, "ci.yml", run_name="grade {correlation}",
                                           inputs=INPUT_NAMES)
    forged = fake_github.actions.add_run(own, inputs={"correlation": run.inputs["correlation"]})
    fake_github.actions.complete_run(forged.id, artifacts={"junit": junit_zip(suite(10))})
    event = workflow_run_event(fake_github, fake_github.actions.runs[forged.id])
    await h.deliver("workflow_run", event)
    await asyncio.wait_for(h.settle(), GUARD)
    assert [r["state"] for r in await ledger_rows(h)] == ["waiting"]
    await finish(h, fake_github, run, artifacts={"junit": junit_zip(suite(1, failed=1))})
    assert rubric_rows(the_run(fake_github, payload)["output"]["summary"])["correctness"][1] == "20"


async def test_a_newer_push_while_tests_run_means_only_its_results_count(
    h: Harness, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    payload, first = await submit(h, fake_github, fake_llm, tmp_path)
    git = GitRepo(Path(tmp_path / REPO.replace("/", "_")))
    git.commit({"app/shortener.py": "def shorten(url):\n    return url[:9]\n"}, "two",
               branch="feature")
    git.checkout("main")
    newer = dict(payload, action="synchronize")
    newer["pull_request"] = dict(payload["pull_request"],
                                 head=dict(payload["pull_request"]["head"], sha=git.rev("feature")))
    fake_llm.script(good(1.0))
    await h.deliver("pull_request", newer)
    await asyncio.wait_for(h.settle(), GUARD)
    second = fake_github.actions.dispatched(GRADER)[-1]
    assert second.id != first.id
    await finish(h, fake_github, first, artifacts={"junit": junit_zip(suite(4))})
    old = fake_github.runs_for(REPO, payload["pull_request"]["head"]["sha"])[-1]
    assert old["conclusion"] == "cancelled"  # superseded: its results count for nothing
    await finish(h, fake_github, second, artifacts={"junit": junit_zip(suite(1, failed=3))})
    new = fake_github.runs_for(REPO, git.rev("feature"))[-1]
    assert rubric_rows(new["output"]["summary"])["correctness"][1] == "10"
