"""Which deliveries become which jobs: GitHub's published payloads and hand-built edge cases."""

from __future__ import annotations

from typing import Any

import pytest
from gidgethub import sansio

from app.events import Context, Decision, decide
from app.jobs.models import PullRequestJob, PushJob, RerunJob
from tests.support import published, pull_request_payload, push_payload

CTX = Context(delivery_id="d-1", received_at="2026-11-29T00:00:00+00:00")
SHA_A, SHA_B = "a" * 40, "b" * 40


async def run(event: str, data: dict[str, Any]) -> Decision:
    return await decide(sansio.Event(data, event=event, delivery_id="d-1"), CTX)


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
async def test_pull_request_actions_review_the_pr(action: str) -> None:
    payload = pull_request_payload("acme/task-1", 7, head_sha=SHA_A, base_sha=SHA_B, action=action)
    decision = await run("pull_request", payload)
    [job] = decision.jobs
    assert (job.kind, job.repo, job.number, job.head_sha, job.base_sha) == (
        "pull_request",
        "acme/task-1",
        7,
        SHA_A,
        SHA_B,
    )
    assert job.installation_id == 1 and job.delivery_id == "d-1"


async def test_draft_waits_and_closed_is_ignored() -> None:
    draft = pull_request_payload("acme/t", 1, head_sha=SHA_A, base_sha=SHA_B, draft=True)
    assert (await run("pull_request", draft)).jobs == ()
    closed = pull_request_payload("acme/t", 1, head_sha=SHA_A, base_sha=SHA_B, action="closed")
    assert (await run("pull_request", closed)).jobs == ()


async def test_push_to_default_branch_reviews_since_baseline() -> None:
    [job] = (await run("push", push_payload("acme/t", after=SHA_A))).jobs
    assert isinstance(job, PushJob)
    assert (job.kind, job.ref, job.head_sha) == ("push", "main", SHA_A)


@pytest.mark.parametrize(
    "payload",
    [
        push_payload("acme/t", after="0" * 40, before=SHA_A, deleted=True),
        push_payload("acme/t", after=SHA_A, ref="refs/tags/v1"),
        push_payload("acme/t", after=SHA_A, ref="refs/heads/feature"),
    ],
    ids=["branch-deleted", "tag", "other-branch"],
)
async def test_pushes_that_need_no_review(payload: dict[str, Any]) -> None:
    decision = await run("push", payload)
    assert decision.jobs == () and decision.reason


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("installation"),
        lambda p: p["pull_request"].update(body=None, head=None),
        lambda p: p["pull_request"]["head"].update(sha=12),
        lambda p: p.update(repository="nope"),
        lambda p: p["installation"].update(id="1"),
    ],
    ids=["no-installation", "null-head", "sha-not-string", "repo-not-object", "id-string"],
)
async def test_payloads_missing_fields_are_skipped_not_crashed(mutate: Any) -> None:
    payload = pull_request_payload("acme/t", 1, head_sha=SHA_A, base_sha=SHA_B)
    mutate(payload)
    decision = await run("pull_request", payload)
    assert decision.jobs == () and decision.reason


async def test_unknown_events_and_actions_do_nothing() -> None:
    assert (await run("star", {"action": "created"})).jobs == ()
    assert (await run("pull_request", {"action": "labeled"})).jobs == ()


# --- GitHub's published payloads (contract) ---------------------------------------------------


@pytest.mark.contract
@pytest.mark.parametrize(
    ("event", "name", "kind"),
    [
        ("pull_request", "opened", "pull_request"),
        ("pull_request", "opened.with-null-body", "pull_request"),
        ("pull_request", "reopened", "pull_request"),
        ("pull_request", "synchronize", "pull_request"),
        ("push", "branch-created", "push"),
        ("check_suite", "rerequested", "pull_request"),
        ("check_run", "rerequested", "push"),
    ],
)
async def test_published_payloads_become_jobs(event: str, name: str, kind: str) -> None:
    data = published(event, name)
    decision = await run(event, data)
    [job] = decision.jobs
    assert job.kind == kind
    assert job.repo == data["repository"]["full_name"]


@pytest.mark.contract
@pytest.mark.parametrize(
    ("event", "name"),
    [
        ("pull_request", "closed"),
        ("push", "tag-deleted"),
        ("push", "tag-deleted.with-installation"),
        ("push", "branch-updated"),  # no installation, not the default branch
        ("push", "branch-updated.with-installation.probot"),
        ("check_run", "requested_action"),  # another app's action identifier
        ("check_run", "created"),
        ("check_suite", "requested"),
        ("installation", "created"),
        ("installation", "deleted"),
        ("installation", "suspend"),
        ("installation_repositories", "added"),
        ("installation_repositories", "removed"),
        ("issue_comment", "created"),
    ],
)
async def test_published_payloads_without_work(event: str, name: str) -> None:
    assert (await run(event, published(event, name))).jobs == ()


# --- forks: check payloads carry `pull_requests: []` and `head_branch: null` -------------------


def _fork_check_run(external_id: str | None) -> dict[str, Any]:
    return {
        "action": "rerequested",
        "check_run": {
            "id": 9, "head_sha": SHA_A, "name": "Relo Review", "external_id": external_id,
            "check_suite": {"head_branch": None}, "pull_requests": [],
        },
        "repository": {"full_name": "acme/t", "default_branch": "main"},
        "installation": {"id": 1},
    }


async def test_a_fork_prs_check_run_rerun_is_a_review_of_that_pr() -> None:
    [job] = (await run("check_run", _fork_check_run("relo:pr:12"))).jobs
    assert isinstance(job, PullRequestJob)
    assert (job.number, job.head_sha, job.base_sha, job.fresh) == (12, SHA_A, None, True)


async def test_a_fork_prs_suite_rerun_is_resolved_by_the_worker_not_pushed_to_none() -> None:
    payload = {
        "action": "rerequested",
        "check_suite": {"id": 3, "head_sha": SHA_A, "head_branch": None, "pull_requests": []},
        "repository": {"full_name": "acme/t", "default_branch": "main"},
        "installation": {"id": 1},
    }
    [job] = (await run("check_suite", payload)).jobs
    assert isinstance(job, RerunJob) and job.head_sha == SHA_A
    [other] = (await run("check_run", _fork_check_run("someone-else:42"))).jobs
    assert isinstance(other, RerunJob)
