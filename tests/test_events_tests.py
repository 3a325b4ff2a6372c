"""Which `workflow_run` deliveries finish a grader run: GitHub's published examples, the fake's
deliveries (held to GitHub's published schemas) and hostile payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from app.events_tests import GraderRunDone, SkipRun, decide_workflow_run
from app.github.actions import INPUT_NAMES, new_correlation, run_name
from tests.fakes.github import FakeGitHub
from tests.fakes.github_ci import workflow_run_event
from tests.fakes.gitrepo import GitRepo
from tests.support import SHARED_GITHUB, published, require_shared

pytestmark = pytest.mark.contract
CORRELATION = "relo-0123456789abcdef"


def as_grader_run(payload: dict[str, Any], *, installation: int | None = 7) -> dict[str, Any]:
    """The published example as a dispatched grader run delivered to an app: the three fields
    a grader run has that the examples (an org hook, a repository_dispatch run) do not."""
    data = copy.deepcopy(payload)
    data["workflow_run"]["event"] = "workflow_dispatch"
    data["workflow_run"]["display_title"] = run_name(CORRELATION)
    if installation is not None:
        data["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uNw=="}
    return data


def validate(payload: dict[str, Any]) -> None:
    """Hold a payload to octokit's published schema for its action (referenced by `$id`)."""
    root = require_shared(SHARED_GITHUB / "webhooks" / "schemas")
    resources = []
    for path in sorted(root.rglob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema, DRAFT7)))
    registry = Registry().with_resources(resources)
    schema_path = root / "workflow_run" / f"{payload['action']}.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator(schema, registry=registry).validate(payload)


# -- GitHub's published examples --------------------------------------------------------------


@pytest.mark.parametrize("name", ["requested", "requested.with-conclusion"])
def test_requested_runs_finish_nothing(name: str) -> None:
    decision = decide_workflow_run(as_grader_run(published("workflow_run", name)))
    assert decision == SkipRun("workflow_run 'requested': only a completed run has a report")


@pytest.mark.parametrize("name", ["completed", "completed.with-pull-requests"])
def test_the_published_runs_as_they_are_are_not_grader_runs(name: str) -> None:
    data = published("workflow_run", name)
    decision = decide_workflow_run(data)
    assert isinstance(decision, SkipRun) and "'repository_dispatch'" in decision.reason
    dispatched = copy.deepcopy(data)
    dispatched["workflow_run"]["event"] = "workflow_dispatch"
    assert decide_workflow_run(dispatched) == SkipRun(
        "run title carries no correlation id: not a grader run of ours")


@pytest.mark.parametrize("name", ["completed", "completed.with-pull-requests"])
def test_a_completed_grader_run_names_what_the_job_needs(name: str) -> None:
    data = as_grader_run(published("workflow_run", name))
    validate(data)  # still a payload GitHub could send
    assert decide_workflow_run(data) == GraderRunDone(
        installation_id=7, repo="octo-org/octo-repo", workflow_path=".github/workflows/test.yml",
        run_id=289782451, run_attempt=1, correlation=CORRELATION, conclusion="success",
        html_url="https://github.com/octo-org/octo-repo/actions/runs/289782451")


def test_a_run_seen_by_an_org_hook_has_no_installation_and_is_skipped() -> None:
    data = as_grader_run(published("workflow_run", "completed"), installation=None)
    assert decide_workflow_run(data) == SkipRun(
        "payload has no installation: not delivered to the app")


# -- the fake's deliveries --------------------------------------------------------------------


def test_the_fakes_deliveries_match_githubs_schemas_and_decide_like_them(tmp_path: Path) -> None:
    fake = FakeGitHub()
    git = GitRepo.init(tmp_path / "graders")
    git.commit({"hidden/test_x.py": "def test_x():\n    pass\n"}, "hidden")
    fake.add_repo("acme/graders", git, private=True, installation_id=3)
    flow = fake.actions.add_workflow("acme/graders", run_name="grade {correlation}",
                                     inputs=INPUT_NAMES)
    correlation = new_correlation()
    run = fake.actions.add_run(flow, inputs={"correlation": correlation})
    for action in ("requested", "in_progress"):
        early = workflow_run_event(fake, run, action, installation_id=3)
        validate(early)
        assert isinstance(decide_workflow_run(early), SkipRun)
    fake.actions.complete_run(run.id, "cancelled")
    done = workflow_run_event(fake, run, "completed", installation_id=3)
    validate(done)
    assert decide_workflow_run(done) == GraderRunDone(
        installation_id=3, repo="acme/graders", workflow_path=".github/workflows/grade.yml",
        run_id=run.id, run_attempt=1, correlation=correlation, conclusion="cancelled",
        html_url=f"{fake.html_url}/acme/graders/actions/runs/{run.id}")


# -- hostile and odd payloads -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.update(action="deleted"), "not an action we know"),
        (lambda d: d.pop("workflow_run"), "no 'workflow_run' object"),
        (lambda d: d["workflow_run"].update(display_title=f"grade {CORRELATION} x"),
         "no correlation id"),
        (lambda d: d["workflow_run"].update(display_title=None), "no correlation id"),
        (lambda d: d["installation"].update(id=True), "no installation"),
        (lambda d: d["installation"].update(id=2**64), "no installation"),
        (lambda d: d["workflow_run"].update(id="289782451"), "no repository name or run id"),
        (lambda d: d["repository"].update(full_name=None), "no repository name or run id"),
        (lambda d: d.update(repository=[]), "no repository name or run id"),
    ],
)
def test_payloads_without_what_the_job_needs_are_skipped(change: Any, reason: str) -> None:
    data = as_grader_run(published("workflow_run", "completed"))
    change(data)
    decision = decide_workflow_run(data)
    assert isinstance(decision, SkipRun) and reason in decision.reason


def test_a_completed_run_without_a_conclusion_still_finishes_and_says_none() -> None:
    data = as_grader_run(published("workflow_run", "completed"))
    data["workflow_run"]["conclusion"] = None
    decision = decide_workflow_run(data)
    assert isinstance(decision, GraderRunDone) and decision.conclusion is None
