"""The fake GitHub's Actions, branch, check-suite and membership endpoints behave like GitHub's."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.github_actions import zip_of
from tests.fakes.gitrepo import GitRepo

REPO = "org/grader"
R = f"/repos/{REPO}"


@pytest.fixture
def fake(tmp_path: Path) -> FakeGitHub:
    git = GitRepo.init(tmp_path / "grader")
    git.commit({"tests/test_task.py": "def test_ok():\n    assert True\n"}, "grader")
    git.checkout("release/v1", create=True)
    git.commit({"VERSION": "1\n"}, "release")
    github = FakeGitHub()
    github.add_repo(REPO, git)
    return github


@pytest.fixture
async def http(fake: FakeGitHub) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=fake.app)
    headers = {"authorization": f"token {fake.issue_token(1)}"}
    async with httpx2.AsyncClient(transport=transport, base_url=fake.base_url,
                                  headers=headers) as client:
        yield client
    fake.assert_no_violations()


async def test_dispatch_creates_a_run_with_its_inputs(
    fake: FakeGitHub, http: httpx2.AsyncClient
) -> None:
    flow = fake.actions.add_workflow(REPO, inputs=("submission",), run_name="grade {submission}")
    plain = await http.post(f"{R}/actions/workflows/grade.yml/dispatches",
                            json={"ref": "main", "inputs": {"submission": "a"}})
    assert plain.status_code == 204 and plain.content == b""
    detailed = await http.post(f"{R}/actions/workflows/{flow.id}/dispatches",
                               json={"ref": "release/v1", "inputs": {"submission": "b"},
                                     "return_run_details": True})
    assert detailed.status_code == 200
    first, second = fake.actions.dispatched(REPO)
    assert detailed.json()["workflow_run_id"] == second.id
    assert (first.inputs, second.head_branch) == ({"submission": "a"}, "release/v1")
    run = (await http.get(f"{R}/actions/runs/{second.id}")).json()
    assert run["display_title"] == "grade b" and run["event"] == "workflow_dispatch"
    assert run["status"] == "queued" and run["conclusion"] is None and run["run_number"] == 2


async def test_dispatch_refuses_what_github_refuses(
    fake: FakeGitHub, http: httpx2.AsyncClient
) -> None:
    fake.actions.add_workflow(REPO, inputs=("submission",))
    url = f"{R}/actions/workflows/grade.yml/dispatches"
    unexpected = await http.post(url, json={"ref": "main", "inputs": {"score": "10"}})
    assert unexpected.status_code == 422 and "Unexpected inputs" in unexpected.json()["message"]
    assert (await http.post(url, json={"ref": "nope"})).status_code == 422
    missing = await http.post(f"{R}/actions/workflows/other.yml/dispatches", json={"ref": "main"})
    assert missing.status_code == 404
    assert fake.actions.dispatched() == []


async def test_runs_are_listed_newest_first_and_filtered(
    fake: FakeGitHub, http: httpx2.AsyncClient
) -> None:
    flow = fake.actions.add_workflow(REPO)
    runs = [fake.actions.add_run(flow, ref="main") for _ in range(3)]
    fake.actions.complete_run(runs[0].id, "failure")
    url = f"{R}/actions/workflows/{flow.id}/runs"
    listed = (await http.get(url, params={"per_page": 2})).json()
    assert [r["id"] for r in listed["workflow_runs"]] == [runs[2].id, runs[1].id]
    assert listed["total_count"] == 3
    failed = (await http.get(url, params={"status": "failure"})).json()["workflow_runs"]
    assert [r["id"] for r in failed] == [runs[0].id]
    queued = (await http.get(url, params={"status": "queued", "head_sha": runs[0].head_sha}))
    assert queued.json()["total_count"] == 2


async def test_artifact_download_redirects_to_a_link_that_expires(
    fake: FakeGitHub, http: httpx2.AsyncClient
) -> None:
    flow = fake.actions.add_workflow(REPO)
    run = fake.actions.add_run(flow)
    fake.actions.complete_run(run.id, artifacts={"junit": zip_of({"junit.xml": "<x/>"})})
    listed = (await http.get(f"{R}/actions/runs/{run.id}/artifacts")).json()
    [artifact] = listed["artifacts"]
    assert artifact["name"] == "junit" and artifact["expired"] is False
    redirect = await http.get(f"{R}/actions/artifacts/{artifact['id']}/zip")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    transport = httpx2.ASGITransport(app=fake.app)
    async with httpx2.AsyncClient(transport=transport) as anonymous:
        got = await anonymous.get(location)
        assert got.status_code == 200
        assert zipfile.ZipFile(io.BytesIO(got.content)).read("junit.xml") == b"<x/>"
        later = fake.now() + timedelta(minutes=2)
        fake.now = lambda: later
        assert (await anonymous.get(location)).status_code == 403
    gone = fake.actions.add_artifact(run.id, "old", b"", expired=True)
    assert (await http.get(f"{R}/actions/artifacts/{gone.id}/zip")).status_code == 410


async def test_memberships(fake: FakeGitHub, http: httpx2.AsyncClient) -> None:
    fake.orgs.set_member("org", "Owner", role="admin")
    fake.orgs.set_member("org", "invited", state="pending")
    fake.orgs.set_team_member("org", "reviewers", "alice")
    owner = (await http.get("/orgs/org/memberships/owner")).json()
    assert (owner["role"], owner["state"]) == ("admin", "active")
    assert (await http.get("/orgs/org/memberships/invited")).json()["state"] == "pending"
    assert (await http.get("/orgs/org/memberships/nobody")).status_code == 404
    assert (await http.get("/orgs/elsewhere/memberships/owner")).status_code == 403
    team = (await http.get("/orgs/org/teams/reviewers/memberships/alice")).json()
    assert (team["role"], team["state"]) == ("member", "active")
    assert (await http.get("/orgs/org/teams/reviewers/memberships/bob")).status_code == 404


async def test_branch_names_may_hold_slashes(fake: FakeGitHub, http: httpx2.AsyncClient) -> None:
    branch = (await http.get(f"{R}/branches/release/v1")).json()
    assert branch["name"] == "release/v1"
    assert branch["commit"]["sha"] == fake.repos[REPO].git.rev("release/v1")
    assert (await http.get(f"{R}/branches/missing")).status_code == 404


async def test_check_suites_for_a_ref_by_app(fake: FakeGitHub, http: httpx2.AsyncClient) -> None:
    sha = fake.repos[REPO].git.rev("main")
    await http.post(f"{R}/check-runs", json={"name": "relo", "head_sha": sha,
                                              "status": "in_progress"})
    fake.actions.complete_run(fake.actions.add_run(fake.actions.add_workflow(REPO)).id)
    suites = (await http.get(f"{R}/commits/{sha}/check-suites")).json()
    assert suites["total_count"] == 2
    mine = (await http.get(f"{R}/commits/main/check-suites",
                           params={"app_id": fake.app_id})).json()["check_suites"]
    assert [s["status"] for s in mine] == ["in_progress"]


async def test_an_applied_fault_does_the_work_and_loses_the_answer(
    fake: FakeGitHub, http: httpx2.AsyncClient
) -> None:
    sha = fake.repos[REPO].git.rev("main")
    fake.fail("POST", r"/check-runs$", 502, applied=True)
    fake.fail("POST", r"/check-runs$", 0, applied=True)
    body = {"name": "relo", "head_sha": sha}
    assert (await http.post(f"{R}/check-runs", json=body)).status_code == 502
    with pytest.raises(httpx2.ReadTimeout):
        await http.post(f"{R}/check-runs", json=body)
    assert len(fake.runs_for(REPO, sha)) == 2
