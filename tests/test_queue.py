"""Nothing lost, nothing twice: leases, restarts, coalescing of pushes to the same PR."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2

from app.config import Settings
from app.jobs.models import PullRequestJob
from app.jobs.store import JobStore, Outcome
from app.ledger import Ledger
from app.review.models import ReviewerResult, Submission
from app.review.static import StaticReviewer
from tests.conftest import Harness, harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.scenarios import REPO, make_repo, open_pr
from tests.support import pull_request_payload

JOB = PullRequestJob(
    installation_id=1, repo="acme/t", head_sha="a" * 40,
    delivery_id="d", event="pull_request", received_at="2026-11-29T00:00:00+00:00", number=3,
    base_sha="b" * 40,
)


async def test_a_claim_is_exclusive_until_its_lease_runs_out(tmp_path: Path) -> None:
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    await ledger.migrate()
    store = JobStore(ledger, lease_seconds=60)
    try:
        review_id = await ledger.enqueue_job(JOB)
        first = await store.claim(review_id)
        assert first is not None
        assert await store.claim(review_id) is None  # another worker
        assert await ledger.runnable() == []
        # The worker died: its lease ran out.
        await store.interrupted(first, "test")
        assert await ledger.runnable() == [review_id]
        second = await JobStore(ledger, lease_seconds=60).claim(review_id)
        assert second is not None and second.number == 2
        await store.finish(second, Outcome(state="done", conclusion="success"))
        assert await store.claim(review_id) is None
    finally:
        await ledger.close()


async def test_migrations_are_idempotent(tmp_path: Path) -> None:
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    try:
        await ledger.migrate()
        await ledger.migrate()
        assert await ledger.review_states() == {}
    finally:
        await ledger.close()


def _pr(git: GitRepo, fake: FakeGitHub, action: str = "opened") -> dict[str, Any]:
    return pull_request_payload(
        REPO, 1, head_sha=git.rev("feature"), base_sha=git.rev("main"), action=action
    )


async def test_work_accepted_before_a_restart_is_reviewed_after_it(
    settings: Settings, github_http: httpx2.AsyncClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    open_pr(fake_github, git, {"app/a.py": "import sys\n"})
    async with harness_for(settings, github_http, start_workers=False) as idle:
        assert (await idle.deliver("pull_request", _pr(git, fake_github))).status_code == 202
    assert fake_github.check_runs == []
    async with harness_for(settings, github_http) as h:
        await h.settle()
    [run] = fake_github.runs_for(REPO)
    assert run["status"] == "completed"
    assert len(fake_github.comments_on(REPO, 1)) == 1


async def test_queued_pushes_to_one_pr_review_only_the_newest(
    settings: Settings, github_http: httpx2.AsyncClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    open_pr(fake_github, git, {"app/a.py": "import sys\n"})
    async with harness_for(settings, github_http, start_workers=False) as idle:
        await idle.deliver("pull_request", _pr(git, fake_github))
        git.commit({"app/a.py": "import sys\nimport os\n"}, "two", branch="feature")
        git.checkout("main")
        await idle.deliver("pull_request", _pr(git, fake_github, "synchronize"))
    async with harness_for(settings, github_http) as h:
        await h.settle()
        states = await h.services.ledger.review_states()
    [run] = fake_github.runs_for(REPO)
    assert run["head_sha"] == git.rev("feature")
    assert states == {"done": 1, "superseded": 1}


async def test_a_push_during_a_review_cancels_the_old_check_run(
    settings: Settings, github_http: httpx2.AsyncClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    open_pr(fake_github, git, {"app/a.py": "import sys\n"})
    first_head = git.rev("feature")
    harness: list[Harness] = []
    static = StaticReviewer()

    class PushesMidReview:
        """The candidate pushes again while the first review is running."""

        name = "static"

        async def review(self, submission: Submission) -> ReviewerResult:
            if submission.change.head_sha == first_head:
                git.commit({"app/a.py": "import json\n"}, "two", branch="feature")
                git.checkout("main")
                response = await harness[0].deliver(
                    "pull_request", _pr(git, fake_github, "synchronize")
                )
                assert response.status_code == 202
            return await static.review(submission)

    async with harness_for(settings, github_http, reviewers=lambda job: (PushesMidReview(),)) as h:
        harness.append(h)
        await h.deliver("pull_request", _pr(git, fake_github))
        await h.settle()
    old, new = sorted(fake_github.runs_for(REPO), key=lambda r: r["id"])
    assert (old["head_sha"], old["conclusion"]) == (first_head, "cancelled")
    assert "newer commit" in old["output"]["summary"]
    assert (new["head_sha"], new["status"]) == (git.rev("feature"), "completed")
    assert len(fake_github.comments_on(REPO, 1)) == 1


async def test_shutdown_leaves_unstarted_work_queued(
    settings: Settings, github_http: httpx2.AsyncClient, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    open_pr(fake_github, git, {"app/a.py": "import sys\n"})
    async with harness_for(settings, github_http) as h:
        await h.services.queue.stop(grace=1)
        response = await h.deliver("pull_request", _pr(git, fake_github))
        assert response.status_code == 202  # stored, not lost
        assert await h.services.ledger.review_states() == {"queued": 1}
