"""`python -m app purge`: a finished review older than the retention period loses what it
stored about the candidate's code; its outcome, newer reviews and unfinished ones stay."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.__main__ import main
from app.config import Settings
from app.jobs.models import PullRequestJob, PushJob, ReviewJob
from app.jobs.store import JobStore, Outcome
from app.ledger import Ledger, findings, fingerprints, llm_results, reviews, utcnow
from app.retention import Purged, purge
from app.review.models import Finding, Severity
from tests.support import SECRET

OLD, NEW, RUNNING = 1, 2, 3  # the review ids fill_ledger makes


@pytest.fixture
def ledger_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    asyncio.run(fill_ledger(url))
    return url


def pull(head: str) -> ReviewJob:
    return PullRequestJob(
        installation_id=1, repo="acme/task-ada", head_sha=head * 40, delivery_id=f"d-{head}",
        event="pull_request", received_at="2026-11-01T10:00:00+00:00", number=1,
        sender="ada", author="ada", title="My solution", body="I copied nothing, honest",
    )  # fmt: skip


async def fill_ledger(url: str) -> None:
    ledger = Ledger.from_url(url)
    await ledger.migrate()
    store = JobStore(ledger, lease_seconds=60)
    finding = Finding(path="a.py", start_line=1, end_line=1, severity=Severity.WARNING,
                      rule="E1", source="static", message="`password = 'hunter2'`")
    try:
        for job, finished in ((pull("a"), 40), (pull("b"), 5)):
            review_id = await ledger.enqueue_job(job)
            attempt = await store.claim(review_id)
            assert attempt is not None
            await store.finish(attempt, Outcome(
                state="done", conclusion="success", assignment="task-1", score=7, points=10,
                scores={"correctness": 7}, found=(finding, finding),
            ))  # fmt: skip
            async with ledger.engine.begin() as conn:
                await conn.execute(
                    reviews.update().where(reviews.c.id == review_id).values(
                        finished_at=utcnow() - timedelta(days=finished),
                        history='{"signals": []}', similarity="[]", tests_result="{}",
                    )
                )
                await conn.execute(fingerprints.insert(), [
                    {"review_id": review_id, "assignment": "task-1", "repo": job.repo,
                     "hash": h, "path": "a.py", "start_line": 1, "end_line": 2}
                    for h in range(3)
                ])  # fmt: skip
        running = PushJob(installation_id=1, repo="acme/task-bob", head_sha="c" * 40,
                          delivery_id="d-c", event="push", received_at="2026-11-01T10:00:00Z")
        assert await ledger.enqueue_job(running) == RUNNING
        async with ledger.engine.begin() as conn:
            await conn.execute(reviews.update().where(reviews.c.id == RUNNING).values(
                state="running", history="{}", finished_at=utcnow() - timedelta(days=90)))
            await conn.execute(llm_results.insert(), [
                {"key": "old", "data": "{}", "created_at": utcnow() - timedelta(days=31)},
                {"key": "new", "data": "{}", "created_at": utcnow() - timedelta(days=1)},
            ])  # fmt: skip
    finally:
        await ledger.close()


async def snapshot(url: str) -> dict[str, Any]:
    ledger = Ledger.from_url(url)
    try:
        async with ledger.engine.connect() as conn:
            rows = (await conn.execute(sa.select(reviews).order_by(reviews.c.id))).all()
            return {
                "reviews": {r.id: r for r in rows},
                "findings": sorted((await conn.execute(sa.select(findings.c.review_id))).scalars()),
                "fingerprints": sorted(
                    (await conn.execute(sa.select(fingerprints.c.review_id))).scalars()
                ),
                "llm": sorted((await conn.execute(sa.select(llm_results.c.key))).scalars()),
            }
    finally:
        await ledger.close()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_purge_clears_old_reviews_data_and_keeps_their_outcome(
    ledger_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = asyncio.run(snapshot(ledger_url))
    monkeypatch.setenv("RETENTION_DAYS", "30")

    status, out = run_cli(capsys, "purge", "--dry-run")
    assert status == 0
    assert "1 would be cleared (2 findings, 3 fingerprints)" in out
    assert "1 stored LLM assessments would be deleted" in out
    assert asyncio.run(snapshot(ledger_url)) == before  # a dry run changes nothing

    status, out = run_cli(capsys, "purge")
    assert status == 0 and "1 cleared (2 findings, 3 fingerprints)" in out
    after = asyncio.run(snapshot(ledger_url))
    assert after["findings"] == [NEW, NEW] and after["fingerprints"] == [NEW] * 3
    assert after["llm"] == ["new"]
    old, new, running = (after["reviews"][i] for i in (OLD, NEW, RUNNING))
    assert (old.history, old.similarity, old.tests_result) == (None, None, None)
    assert (old.state, old.conclusion, old.score, old.points, json.loads(old.scores)) == (
        "done", "success", 7.0, 10, {"correctness": 7}
    )
    job = json.loads(old.job)
    assert (job["title"], job["body"], job["sender"]) == (None, None, "ada")
    assert new == before["reviews"][NEW] and running == before["reviews"][RUNNING]

    status, out = run_cli(capsys, "purge")  # nothing left to clear
    assert "0 cleared (0 findings, 0 fingerprints); 0 stored" in out


def test_days_on_the_command_line_beat_the_setting(
    ledger_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "365")
    status, out = run_cli(capsys, "purge", "--days", "3")
    assert status == 0 and "more than 3 days ago: 2 cleared (4 findings" in out
    after = asyncio.run(snapshot(ledger_url))
    assert after["findings"] == [] and after["llm"] == ["new"]  # 1 day old: kept


def test_retention_zero_keeps_everything(
    ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = asyncio.run(snapshot(ledger_url))
    status, out = run_cli(capsys, "purge")
    assert status == 0 and "kept forever" in out
    assert asyncio.run(snapshot(ledger_url)) == before
    assert main(["purge", "--days", "0"]) == 2  # 0 days would mean "everything": refused


async def test_purge_on_postgresql() -> None:
    from tests.services import fresh_postgres

    url = (await fresh_postgres()).replace("postgresql://", "postgresql+asyncpg://", 1)
    await fill_ledger(url)
    ledger = Ledger.from_url(url)
    try:
        before = utcnow() - timedelta(days=30)
        assert await purge(ledger, before=before, dry_run=True) == Purged(1, 2, 3, 1)
        assert await purge(ledger, before=before) == Purged(1, 2, 3, 1)
    finally:
        await ledger.close()
    after = await snapshot(url)
    assert after["findings"] == [NEW, NEW] and after["llm"] == ["new"]
    assert json.loads(after["reviews"][OLD].job)["body"] is None
    assert after["reviews"][RUNNING].history == "{}"
