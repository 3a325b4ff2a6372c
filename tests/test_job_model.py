"""One review, one outcome: fenced attempts, a cap, loops that survive, phases that never go
back, and no worker slot spent waiting for another review of the same PR."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app.config import Settings
from app.jobs.execute import run_attempt
from app.jobs.inprocess import InProcessQueue
from app.jobs.models import PullRequestJob
from app.jobs.store import Attempt, GraderRun, JobStore, LeaseLost, Outcome
from app.ledger import Ledger, findings, reviews, utcnow
from app.review.models import Finding, ReviewerResult, Severity, Submission
from app.review.static import StaticReviewer
from tests.conftest import harness_for
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, ledger_rows, make_repo, only_run, open_pr

JOB = PullRequestJob(
    installation_id=1, repo="acme/t", head_sha="a" * 40,
    delivery_id="d", event="pull_request", received_at="2026-11-29T00:00:00+00:00", number=3,
    base_sha="b" * 40,
)
GUARD = 30.0  # a deadlock guard, never a timing assertion


def _finding(line: int) -> Finding:
    return Finding(
        path="a.py", start_line=line, end_line=line, severity=Severity.WARNING,
        rule="x", message="m", source="static",
    )


def _db_error() -> OperationalError:
    return OperationalError("UPDATE reviews", {}, Exception("database is locked"))


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    """A migrated SQLite ledger of the test's own, closed after it."""
    opened = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    await opened.migrate()
    yield opened
    await opened.close()


async def test_a_stale_attempt_can_neither_overwrite_nor_duplicate(ledger: Ledger) -> None:
    store = JobStore(ledger, lease_seconds=60)
    review_id = await ledger.enqueue_job(JOB)
    stale = await store.claim(review_id)
    assert stale is not None
    await store.interrupted(stale, "its worker stalled")  # the lease ran out
    newer = await store.claim(review_id)
    assert newer is not None and newer.number == stale.number + 1
    await store.set_check_run(newer, 77)
    await store.finish(newer, Outcome(state="done", conclusion="success",
                                      found=(_finding(1), _finding(2))))
    with pytest.raises(LeaseLost):
        await store.renew(stale)
    with pytest.raises(LeaseLost):
        await store.set_check_run(stale, 99)
    with pytest.raises(LeaseLost):
        await store.finish(stale, Outcome(state="failed", conclusion="neutral",
                                          found=(_finding(3),)))
    async with ledger.engine.connect() as conn:
        row = (await conn.execute(sa.select(reviews))).mappings().one()
        found = (await conn.execute(sa.select(sa.func.count()).select_from(findings))).scalar()
    assert (row["state"], row["conclusion"], row["check_run_id"]) == ("done", "success", 77)
    assert found == 2


async def test_a_review_that_kills_its_worker_gives_up_after_its_attempts(
    make_settings: Callable[..., Settings],
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
) -> None:
    settings = make_settings(review_max_attempts=3)
    payload = open_pr(fake_github, make_repo(tmp_path, fake_github), {"app/a.py": "x = 1\n"})
    async with harness_for(settings, github_http, start_workers=False) as idle:
        assert (await idle.deliver("pull_request", payload)).status_code == 202
        store = idle.services.store
        [row] = await ledger_rows(idle)
        for _ in range(3):  # three workers die mid-review, each leaving its lease to run out
            attempt = await store.claim(row["id"])
            assert attempt is not None
            await store.interrupted(attempt, "the worker was killed (OOM)")
    async with harness_for(settings, github_http) as h:
        await asyncio.wait_for(h.settle(), GUARD)
        [row] = await ledger_rows(h)
    run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert run["status"] == "completed" and run["conclusion"] == "neutral"
    summary = run["output"]["summary"]
    assert "gave up" in summary and "3 attempts" in summary and "OOM" in summary
    assert (row["state"], row["attempts"]) == ("failed", 4)
    assert fake_github.count("POST", r"/check-runs$") == 1  # no review ran: nothing re-billed


async def test_workers_survive_ledger_errors_and_readyz_tells_a_dead_one(
    settings: Settings,
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = open_pr(fake_github, make_repo(tmp_path, fake_github), {"app/a.py": "x = 1\n"})
    async with harness_for(settings, github_http) as h:
        store = h.services.store
        real_claim = store.claim
        failures = 0

        async def flaky_claim(review_id: int) -> Attempt | None:
            nonlocal failures
            if failures < settings.worker_concurrency + 1:
                failures += 1
                raise _db_error()
            return await real_claim(review_id)

        monkeypatch.setattr(store, "claim", flaky_claim)
        assert (await h.deliver("pull_request", payload)).status_code == 202
        [row] = await ledger_rows(h)
        queue = h.services.queue
        assert isinstance(queue, InProcessQueue)
        while failures <= settings.worker_concurrency:  # more errors than workers
            await queue.enqueue(row["id"])
            await asyncio.wait_for(queue.join(), GUARD)
        await queue.enqueue(row["id"])  # the ledger is back
        await asyncio.wait_for(queue.join(), GUARD)
        assert queue.health() == []
        assert (await h.client.get("/readyz")).status_code == 200
        run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
        assert run["conclusion"] == "success"

        queue._workers[0].cancel()  # a worker is gone anyway: readiness must say so
        await asyncio.gather(queue._workers[0], return_exceptions=True)
        ready = await h.client.get("/readyz")
        assert ready.status_code == 503 and "review-worker-0 stopped" in ready.json()["workers"]


async def test_a_ledger_error_after_publishing_never_downgrades_the_check_run(
    settings: Settings,
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = open_pr(fake_github, make_repo(tmp_path, fake_github), {"app/a.py": "x = 1\n"})
    async with harness_for(settings, github_http) as h:

        async def broken(attempt: Attempt, comment_id: int) -> None:
            raise _db_error()

        monkeypatch.setattr(h.services.store, "set_comment", broken)
        assert (await h.deliver("pull_request", payload)).status_code == 202
        await asyncio.wait_for(h.settle(), GUARD)
        [row] = await ledger_rows(h)
    run = only_run(fake_github, payload["pull_request"]["head"]["sha"])
    assert run["conclusion"] == "success"
    assert "could not be completed" not in run["output"]["title"]
    assert len(fake_github.comments_on(REPO, 1)) == 1  # the comment itself was posted
    assert row["state"] == "done" and "PR comment" in row["error"]


async def test_a_busy_pr_does_not_hold_a_worker_slot(
    make_settings: Callable[..., Settings],
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
) -> None:
    settings = make_settings(worker_concurrency=2)
    busy = make_repo(tmp_path, fake_github)
    first = open_pr(fake_github, busy, {"app/a.py": "x = 1\n"})
    other_repo = "acme/task-bob"
    other = open_pr(fake_github, make_repo(tmp_path, fake_github, other_repo),
                    {"app/b.py": "y = 2\n"}, repo=other_repo)
    release, started, other_done = asyncio.Event(), asyncio.Event(), asyncio.Event()
    static = StaticReviewer()

    class Blocking:
        name = "static"

        async def review(self, submission: Submission) -> ReviewerResult:
            if submission.repo == REPO and submission.change.head_sha == first_sha:
                started.set()
                await release.wait()
            result = await static.review(submission)
            if submission.repo == other_repo:
                other_done.set()
            return result

    first_sha = first["pull_request"]["head"]["sha"]
    async with harness_for(settings, github_http, reviewers=lambda job: (Blocking(),)) as h:
        await h.deliver("pull_request", first)
        await asyncio.wait_for(started.wait(), GUARD)
        for n in (2, 3, 4):  # quick pushes to the busy PR
            busy.commit({"app/a.py": f"x = {n}\n"}, f"push {n}", branch="feature")
            busy.checkout("main")
            again = dict(first, action="synchronize")
            again["pull_request"] = dict(
                first["pull_request"], head=dict(first["pull_request"]["head"],
                                                 sha=busy.rev("feature")))
            await h.deliver("pull_request", again)
        await h.deliver("pull_request", other)
        # The other candidate is reviewed while the busy PR's first review still runs.
        await asyncio.wait_for(other_done.wait(), GUARD)
        release.set()
        await asyncio.wait_for(h.settle(), GUARD)
        states = [r["state"] for r in await ledger_rows(h)]
    assert states.count("done") == 2  # the newest head of the busy PR, and the other PR
    assert only_run(fake_github, busy.rev("feature"))["conclusion"] == "success"


async def test_the_job_time_limit_covers_authentication(
    make_settings: Callable[..., Settings],
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
) -> None:
    settings = make_settings(review_timeout_seconds=0.5)
    payload = open_pr(fake_github, make_repo(tmp_path, fake_github), {"app/a.py": "x = 1\n"})
    hold = fake_github.hold("POST", r"/access_tokens$", timeout=GUARD)
    try:
        async with harness_for(settings, github_http) as h:
            await h.deliver("pull_request", payload)
            await asyncio.wait_for(h.settle(), GUARD)
            [row] = await ledger_rows(h)
    finally:
        hold.release()
    assert row["state"] == "failed"
    assert "longer than 0.5 seconds" in row["error"]


async def test_a_cancelled_attempt_hands_over_at_once(ledger: Ledger) -> None:
    store = JobStore(ledger, lease_seconds=600)
    review_id = await ledger.enqueue_job(JOB)
    attempt = await store.claim(review_id)
    assert attempt is not None
    running = asyncio.Event()

    async def forever(_: Attempt) -> None:
        running.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(run_attempt(store, attempt, forever))
    await asyncio.wait_for(running.wait(), GUARD)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await ledger.runnable() == [review_id]  # not after a 600 s lease
    following = await store.claim(review_id)
    assert following is not None and following.last_error == "the attempt was interrupted"


async def test_losing_the_lease_stops_the_attempt(ledger: Ledger) -> None:
    store = JobStore(ledger, lease_seconds=0.06)  # renewed every 20 ms
    review_id = await ledger.enqueue_job(JOB)
    attempt = await store.claim(review_id)
    assert attempt is not None
    stopped = asyncio.Event()

    async def slow(_: Attempt) -> None:
        try:
            # Meanwhile another worker takes the review over (its attempt number moves on).
            async with ledger.engine.begin() as conn:
                await conn.execute(reviews.update().values(attempts=attempt.number + 1))
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    await asyncio.wait_for(run_attempt(store, attempt, slow), GUARD)
    assert stopped.is_set()


async def test_a_failed_lease_renewal_is_retried(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = JobStore(ledger, lease_seconds=0.3)
    review_id = await ledger.enqueue_job(JOB)
    attempt = await store.claim(review_id)
    assert attempt is not None
    real_renew = store.renew
    calls: list[str] = []
    renewed = asyncio.Event()

    async def flaky(a: Attempt) -> None:
        calls.append("renew")
        if len(calls) == 1:
            raise _db_error()
        await real_renew(a)
        renewed.set()

    monkeypatch.setattr(store, "renew", flaky)

    async def work(a: Attempt) -> None:
        await renewed.wait()
        await store.finish(a, Outcome(state="done", conclusion="success"))

    await asyncio.wait_for(run_attempt(store, attempt, work), GUARD)
    assert (await ledger.get(review_id)) is not None
    assert await ledger.review_states() == {"done": 1}


async def test_the_web_process_on_arq_builds_no_runner(
    make_settings: Callable[..., Settings],
) -> None:
    from app.compose import running_services
    from tests.services import fresh_postgres, fresh_redis

    redis_url, queue_name = await fresh_redis()
    settings = make_settings(
        database_url=await fresh_postgres(), queue_url=redis_url, queue_name=queue_name
    )
    async with running_services(settings) as services:
        assert services.runner is None


def test_workers_and_the_cli_do_not_import_the_web_app() -> None:
    code = (
        "import sys, app.jobs.worker_main, app.cli.review, app.cli.report;"
        "bad = [m for m in ('app.web', 'app.webhook', 'app.setup', 'app.intake') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_waiting_for_hidden_tests_holds_no_lease_and_is_no_attempt(ledger: Ledger) -> None:
    store = JobStore(ledger, lease_seconds=60, max_attempts=2)
    review_id = await ledger.enqueue_job(JOB)
    for n in range(4):  # more waits than attempts allowed: waiting uses none
        attempt = await store.claim(review_id)
        assert attempt is not None and not attempt.final, n
        await store.set_tests(attempt, GraderRun("corr-1", "acme/graders:grade.yml@main"))
        await store.wait(attempt, until=utcnow() + timedelta(hours=1))
        assert await store.claim(review_id) is None  # nobody holds it; nobody may take it
        assert await ledger.runnable() == []
        assert await store.wake("corr-1") == [review_id]  # the workflow_run webhook
    resumed = await store.claim(review_id)
    assert resumed is not None and resumed.tests is not None
    assert resumed.tests.correlation == "corr-1"
    await store.finish(resumed, Outcome(state="done", conclusion="success"))
    assert await store.wake("corr-1") == []


async def test_a_wait_that_runs_out_makes_the_review_runnable(ledger: Ledger) -> None:
    store = JobStore(ledger, lease_seconds=60)
    review_id = await ledger.enqueue_job(JOB)
    attempt = await store.claim(review_id)
    assert attempt is not None
    await store.wait(attempt, until=utcnow() - timedelta(seconds=1))  # time to look again
    assert await ledger.runnable() == [review_id]
