"""The grader workflow through the one GitHub client: what GitHub receives when the app starts
it, how its run is found again, and what the app reads back. Every test asserts the fake's
record (runs dispatched, request bodies, headers), not a mock."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import httpx2
import pytest

from app.events_tests import GraderRunDone, decide_workflow_run
from app.github.actions import (
    INPUT_NAMES,
    ArtifactTooLarge,
    CandidateUnreadable,
    GraderRejected,
    GraderUnreachable,
    RunNotFound,
    correlation_in,
    dispatch,
    download_artifact,
    find_run,
    get_run,
    grader_inputs,
    grader_token,
    new_correlation,
    run_name,
)
from app.github.api import GitHubClient
from app.github.auth import app_jwt
from app.review.tests_config import GraderWorkflow
from tests.fakes.github import FakeGitHub
from tests.fakes.github_actions import Workflow, zip_of
from tests.fakes.github_ci import workflow_run_event
from tests.fakes.gitrepo import GitRepo
from tests.grader_support import PARTIAL_JUNIT

GRADER = "acme/graders"
CANDIDATE = "acme/task-alice"
WORKFLOW = GraderWorkflow(repo=GRADER, file="grade.yml", ref="main")
SINCE = "2000-01-01T00:00:00Z"


class Waits(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def flow(tmp_path: Path, fake_github: FakeGitHub) -> Workflow:
    grader = GitRepo.init(tmp_path / "graders")
    grader.commit({"hidden/test_task.py": "def test_ok():\n    assert True\n"}, "hidden tests")
    fake_github.add_repo(GRADER, grader, private=True)
    candidate = GitRepo.init(tmp_path / "candidate")
    candidate.commit({"task.py": "x = 1\n"}, "starter")
    fake_github.add_repo(CANDIDATE, candidate, private=True)
    return fake_github.actions.add_workflow(GRADER, "grade.yml", run_name="grade {correlation}",
                                            inputs=INPUT_NAMES)


@pytest.fixture
def gh(fake_github: FakeGitHub, github_http: httpx2.AsyncClient) -> GitHubClient:
    return GitHubClient(github_http, base_url=fake_github.base_url,
                        oauth_token=fake_github.issue_token(1), sleep=Waits())


def inputs(correlation: str, token: str = "ghs_grader") -> dict[str, str]:
    return grader_inputs(repository=CANDIDATE, sha="a" * 40, correlation=correlation,
                         token=token)


# -- dispatch ---------------------------------------------------------------------------------


async def test_dispatch_starts_one_run_with_the_submission_and_returns_its_id(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    correlation = new_correlation()
    run_id = await dispatch(gh, WORKFLOW, inputs=inputs(correlation))
    [run] = fake_github.actions.dispatched(GRADER)
    assert run_id == run.id
    assert run.inputs == {"repository": CANDIDATE, "sha": "a" * 40,
                          "correlation": correlation, "token": "ghs_grader"}
    assert run.head_sha == fake_github.repos[GRADER].git.rev("main")
    assert run.display_title == run_name(correlation)
    [post] = [r for r in fake_github.requests if r.path.endswith("/dispatches")]
    assert post.path == f"/repos/{GRADER}/actions/workflows/grade.yml/dispatches"
    assert post.json["return_run_details"] is True and post.json["ref"] == "main"


async def test_a_server_without_run_details_answers_204_and_the_run_is_found_by_correlation(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    fake_github.actions.returns_run_details = False
    other = fake_github.actions.add_run(flow, inputs={"correlation": "relo-someone-else"})
    correlation = new_correlation()
    assert await dispatch(gh, WORKFLOW, inputs=inputs(correlation)) is None
    found = await find_run(gh, WORKFLOW, correlation, created_after=SINCE)
    assert found is not None and found.id != other.id
    assert found.id == fake_github.actions.dispatched(GRADER)[-1].id
    assert (found.status, found.conclusion, found.correlation) == ("queued", None, correlation)
    [listing] = [r for r in fake_github.requests if r.path.endswith("/runs")]
    assert listing.query["event"] == "workflow_dispatch"


@pytest.mark.parametrize("lost", [502, 0], ids=["502", "timeout"])
async def test_a_lost_answer_to_the_dispatch_is_not_a_second_run(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow, lost: int
) -> None:
    fake_github.fail("POST", r"/dispatches$", lost, applied=True)
    correlation = new_correlation()
    run_id = await dispatch(gh, WORKFLOW, inputs=inputs(correlation))
    [run] = fake_github.actions.dispatched(GRADER)
    assert run_id == run.id
    assert fake_github.count("POST", r"/dispatches$") == 1
    assert fake_github.count("GET", r"/actions/workflows/grade\.yml/runs$") == 1


async def test_a_dispatch_github_never_applied_is_sent_again_after_looking(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    fake_github.fail("POST", r"/dispatches$", 503)  # refused before any work
    run_id = await dispatch(gh, WORKFLOW, inputs=inputs(new_correlation()))
    [run] = fake_github.actions.dispatched(GRADER)
    assert run_id == run.id and fake_github.count("POST", r"/dispatches$") == 2


async def test_without_the_app_on_the_grader_repository_the_sentence_says_what_to_grant(
    tmp_path: Path, gh: GitHubClient, fake_github: FakeGitHub
) -> None:
    grader = GitRepo.init(tmp_path / "elsewhere")
    grader.commit({"README.md": "x\n"}, "init")
    fake_github.add_repo(GRADER, grader, installation_id=2)  # another installation's repo
    fake_github.actions.add_workflow(GRADER, "grade.yml", inputs=INPUT_NAMES)
    with pytest.raises(GraderUnreachable) as raised:
        await dispatch(gh, WORKFLOW, inputs=inputs(new_correlation()))
    assert str(raised.value) == (
        "The app cannot start the grader workflow grade.yml in acme/graders: grant it "
        "Actions: write there and install it on that repository.")
    assert fake_github.actions.dispatched() == []


async def test_a_grader_repository_without_actions_write_gets_the_same_sentence(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    fake_github.fail("POST", r"/dispatches$", 403,
                     body={"message": "Resource not accessible by integration"})
    with pytest.raises(GraderUnreachable, match="grant it Actions: write there"):
        await dispatch(gh, WORKFLOW, inputs=inputs(new_correlation()))
    assert fake_github.actions.dispatched() == []
    assert fake_github.count("POST", r"/dispatches$") == 1  # a permission is not retried


async def test_a_workflow_without_our_inputs_or_ref_is_refused_with_a_sentence(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    flow.inputs = ("submission",)
    with pytest.raises(GraderRejected, match="runs on workflow_dispatch with the inputs"):
        await dispatch(gh, WORKFLOW, inputs=inputs(new_correlation()))
    flow.inputs = INPUT_NAMES
    moved = WORKFLOW.model_copy(update={"ref": "no-such-branch"})
    with pytest.raises(GraderRejected, match="'no-such-branch'"):
        await dispatch(gh, moved, inputs=inputs(new_correlation()))
    assert fake_github.actions.dispatched() == []


async def test_inputs_the_dispatch_would_lose_are_refused_before_sending(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    with pytest.raises(ValueError, match="correlation"):
        await dispatch(gh, WORKFLOW, inputs={"repository": CANDIDATE})
    many = {**inputs(new_correlation()), **{f"x{i}": "1" for i in range(22)}}
    with pytest.raises(ValueError, match="25"):
        await dispatch(gh, WORKFLOW, inputs=many)
    assert fake_github.requests == []


def test_correlation_ids_are_whole_words_of_the_title() -> None:
    correlation = new_correlation()
    assert correlation != new_correlation()
    assert correlation_in(run_name(correlation)) == correlation
    for title in (f"grade {correlation}x!", f"grade {correlation} again", f"Grade {correlation}",
                  "grade short", "ci: update", None):
        assert correlation_in(title) is None, title


# -- runs -------------------------------------------------------------------------------------


async def test_find_run_takes_only_the_exact_correlation(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    fake_github.actions.add_run(flow, inputs={"correlation": "relo-0123456789ab"})
    wanted = fake_github.actions.add_run(flow, inputs={"correlation": "relo-0123456789"})
    fake_github.actions.add_run(flow, event="push", inputs={"correlation": "relo-0123456789"})
    found = await find_run(gh, WORKFLOW, "relo-0123456789", created_after=SINCE)
    assert found is not None and found.id == wanted.id
    assert await find_run(gh, WORKFLOW, "relo-nothing-here", created_after=SINCE) is None


async def test_get_run_follows_the_run_to_its_conclusion(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    run = fake_github.actions.add_run(flow, inputs={"correlation": "relo-0123456789"})
    queued = await get_run(gh, GRADER, run.id)
    assert (queued.completed, queued.conclusion) == (False, None)
    fake_github.actions.complete_run(run.id, "timed_out")
    done = await get_run(gh, GRADER, run.id)
    assert (done.completed, done.conclusion, done.correlation) == (
        True, "timed_out", "relo-0123456789")
    assert done.html_url == f"{fake_github.html_url}/{GRADER}/actions/runs/{run.id}"
    with pytest.raises(RunNotFound, match=f"grader run 999999 in {GRADER}"):
        await get_run(gh, GRADER, 999999)


# -- artifacts --------------------------------------------------------------------------------


async def test_the_report_is_downloaded_without_our_token(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    run = fake_github.actions.add_run(flow)
    report = zip_of({"junit/hidden.xml": "<testsuites/>"})
    fake_github.actions.complete_run(run.id, artifacts={"other": zip_of({"x": "y"}),
                                                        "junit": report})
    data = await download_artifact(gh, GRADER, run.id, "junit", max_bytes=10**6)
    assert data == report
    assert zipfile.ZipFile(io.BytesIO(data)).read("junit/hidden.xml") == b"<testsuites/>"
    [link] = [r for r in fake_github.requests if r.path.startswith("/_artifacts/")]
    assert "authorization" not in link.headers


async def test_a_missing_or_expired_report_is_none(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    run = fake_github.actions.add_run(flow)
    fake_github.actions.complete_run(run.id, "failure")
    assert await download_artifact(gh, GRADER, run.id, "junit", max_bytes=10**6) is None
    fake_github.actions.add_artifact(run.id, "junit", zip_of({"a.xml": "<x/>"}), expired=True)
    assert await download_artifact(gh, GRADER, run.id, "junit", max_bytes=10**6) is None
    fresh = fake_github.actions.add_run(flow)
    fake_github.actions.complete_run(fresh.id, artifacts={"junit": zip_of({"a.xml": "<x/>"})})
    fake_github.fail("GET", r"/actions/artifacts/\d+/zip$", 410)  # expired since it was listed
    assert await download_artifact(gh, GRADER, fresh.id, "junit", max_bytes=10**6) is None
    assert fake_github.count("GET", r"^/_artifacts/") == 0


async def test_an_oversized_report_is_refused_by_its_listed_size_and_while_streaming(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow
) -> None:
    run = fake_github.actions.add_run(flow)
    big = zip_of({"junit.xml": random.Random(0).randbytes(5000)})  # does not compress
    fake_github.actions.complete_run(run.id, artifacts={"junit": big})
    [artifact] = [a for a in fake_github.actions.artifacts.values() if a.run_id == run.id]
    with pytest.raises(ArtifactTooLarge, match="over the 1,000 we read"):
        await download_artifact(gh, GRADER, run.id, "junit", max_bytes=1000)
    assert fake_github.count("GET", r"/zip$") == 0
    # GitHub's listing says a small size; the download itself still stops at the cap.
    listing = {"total_count": 1, "artifacts": [{"id": artifact.id, "name": "junit",
                                                "expired": False, "size_in_bytes": 10}]}
    fake_github.fail("GET", r"/runs/\d+/artifacts$", 200, body=listing)
    with pytest.raises(ArtifactTooLarge, match="larger than 1,000 bytes"):
        await download_artifact(gh, GRADER, run.id, "junit", max_bytes=1000)
    assert fake_github.count("GET", r"^/_artifacts/") == 1


# -- the grader's token -----------------------------------------------------------------------


async def test_the_graders_token_reads_one_repository_and_is_never_printed(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow, private_pem: str
) -> None:
    token = await grader_token(gh, 1, CANDIDATE, app_jwt=app_jwt("4242", private_pem))
    [post] = [r for r in fake_github.requests if r.path.endswith("/access_tokens")]
    assert post.json == {"repositories": ["task-alice"], "permissions": {"contents": "read"}}
    assert post.headers["authorization"].startswith("bearer ")
    assert fake_github.tokens[token.token].installation_id == 1
    assert token.token not in repr(token) and token.repository == CANDIDATE
    with pytest.raises(CandidateUnreadable, match="acme/task-alice: it is not installed"):
        await grader_token(gh, 77, CANDIDATE, app_jwt=app_jwt("4242", private_pem))


# -- the whole round trip ---------------------------------------------------------------------


async def test_dispatch_webhook_poll_and_report_fit_together(
    gh: GitHubClient, fake_github: FakeGitHub, flow: Workflow, private_pem: str
) -> None:
    """What the job layer does: token, dispatch, the completed run's delivery names it, the run
    and its report are read back (the report is the sample grader's real JUnit output)."""
    token = await grader_token(gh, 1, CANDIDATE, app_jwt=app_jwt("4242", private_pem))
    correlation = new_correlation()
    sha = fake_github.repos[CANDIDATE].git.rev("main")
    run_id = await dispatch(gh, WORKFLOW, inputs=grader_inputs(
        repository=CANDIDATE, sha=sha, correlation=correlation, token=token.token))
    assert run_id is not None
    report = PARTIAL_JUNIT.read_bytes()
    fake_github.actions.complete_run(run_id, "success",
                                     artifacts={"junit": zip_of({"hidden.xml": report})})
    done = decide_workflow_run(workflow_run_event(fake_github, fake_github.actions.runs[run_id]))
    assert isinstance(done, GraderRunDone)
    assert (done.repo, done.run_id, done.correlation, done.conclusion) == (
        GRADER, run_id, correlation, "success")
    run = await get_run(gh, done.repo, done.run_id)
    assert run.completed and run.correlation == correlation
    data = await download_artifact(gh, done.repo, done.run_id, "junit", max_bytes=10**6)
    assert data is not None
    assert zipfile.ZipFile(io.BytesIO(data)).read("hidden.xml") == report
