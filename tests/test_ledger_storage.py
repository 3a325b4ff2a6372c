"""Storage: GitHub's longest names fit, a delivery the database refuses fails alone, processes
started together migrate in turn, and a ledger that cannot be opened leaves no thread behind."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import SQLAlchemyError

from app.config import Settings
from app.intake import Intake
from app.jobs.models import PushJob, ReviewJob, job_from_dict
from app.ledger import Delivery, Ledger, deliveries, reviews
from tests.conftest import Harness, harness_for
from tests.support import ROOT, push_payload

# GitHub's longest names: a 39-character owner, a 100-character repository, a 255-character ref.
LONGEST_REPO = "o" * 39 + "/" + "r" * 100
LONGEST_REF = "b" * 255
MIGRATIONS = Path(__file__).parent.parent / "app" / "migrations"


def job(n: int, *, repo: str = "acme/task", ref: str = "main", **more: Any) -> ReviewJob:
    return PushJob(
        installation_id=1, repo=repo, head_sha=f"{n:040x}", delivery_id=f"d{n}",
        event="push", received_at="2026-12-05T00:00:00+00:00", ref=ref, **more,
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    from tests.services import fresh_postgres

    return (await fresh_postgres()).replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def ledger(database_url: str) -> AsyncIterator[Ledger]:
    opened = Ledger.from_url(database_url)
    await opened.migrate()
    yield opened
    await opened.close()


async def _count(ledger: Ledger, table: sa.Table) -> int:
    async with ledger.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


# --- GitHub's limits -------------------------------------------------------------------------


async def test_the_longest_names_github_allows_are_stored(ledger: Ledger) -> None:
    push = job(1, repo=LONGEST_REPO, ref=LONGEST_REF)
    pull = job_from_dict(
        {**push.to_dict(), "kind": "pull_request", "number": 2**31 - 1, "head_sha": "f" * 40}
    )
    ids = await ledger.accept_delivery(
        delivery_id="x" * 64, event="push", action=None, installation_id=2**63 - 1,
        repo=LONGEST_REPO, outcome="queued 2", jobs=[push, pull],
    )
    assert ids is not None and len(ids) == 2
    async with ledger.engine.connect() as conn:
        rows = (await conn.execute(sa.select(reviews).order_by(reviews.c.id))).all()
    assert [(r.repo, r.subject, r.ref) for r in rows] == [
        (LONGEST_REPO, f"{LONGEST_REPO}@{LONGEST_REF}", LONGEST_REF),
        (LONGEST_REPO, f"{LONGEST_REPO}#{2**31 - 1}", LONGEST_REF),
    ]
    assert [(await ledger.get(i)).job for i in ids] == [push, pull]  # type: ignore[union-attr]
    await ledger.remember_reviewer_issue(LONGEST_REPO, LONGEST_REPO, 7, 2**63 - 1)
    assert await ledger.reviewer_issue(LONGEST_REPO, LONGEST_REPO) == (7, 2**63 - 1)


def _upgrade_to(connection: sa.Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


# The reviews table as revision 0002 left it (the columns a row needs), to write a row in it.
OLD_REVIEWS = sa.table(
    "reviews", *(sa.column(name) for name in (
        "repo", "subject", "ref", "head_sha", "job", "state", "attempts", "flags", "late",
        "prompt_tokens", "completion_tokens", "cost_usd", "created_at",
    ))
)


def _old_review(old: ReviewJob) -> dict[str, Any]:
    return {
        "repo": old.repo, "subject": old.subject, "ref": "main", "head_sha": old.head_sha,
        "job": json.dumps(old.to_dict()), "state": "queued", "attempts": 0, "flags": 0,
        "late": False, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0,
        "created_at": datetime.now(UTC),
    }


async def test_a_ledger_of_the_old_schema_keeps_its_reviews_and_takes_long_subjects(
    database_url: str,
) -> None:
    ledger = Ledger.from_url(database_url)
    try:
        async with ledger.engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0002")
            await conn.execute(OLD_REVIEWS.insert().values(**_old_review(job(1))))
        await ledger.migrate()
        new = await ledger.accept_delivery(
            delivery_id="new", event="push", action=None, installation_id=1, repo=LONGEST_REPO,
            outcome="queued 1", jobs=[job(2, repo=LONGEST_REPO, ref=LONGEST_REF)],
        )
        assert new is not None
        assert [s.job.subject for s in await ledger.unfinished()] == [
            "acme/task@main", f"{LONGEST_REPO}@{LONGEST_REF}",
        ]
    finally:
        await ledger.close()


# --- a refused delivery fails alone ----------------------------------------------------------


def _unstorable(database_url: str) -> ReviewJob:
    """A value the database refuses (the webhook never builds one: events.py checks numbers)."""
    # PostgreSQL's INTEGER stops at 2**31 - 1, SQLite's at 2**63 - 1.
    number = 2**31 if "postgresql" in database_url else 2**63
    return job_from_dict({**job(3).to_dict(), "kind": "pull_request", "number": number})


async def test_a_delivery_the_database_refuses_fails_alone_in_its_batch(
    ledger: Ledger, database_url: str
) -> None:
    intake = Intake(ledger, max_batch=16)
    batches: list[int] = []
    original = ledger.accept_deliveries

    async def counting(batch: list[Delivery]) -> Any:
        batches.append(len(batch))
        return await original(batch)

    ledger.accept_deliveries = counting  # type: ignore[method-assign]
    await intake.start()
    try:
        sent = [
            Delivery(f"d{n}", "push", None, 1, "acme/task", "queued 1",
                     (_unstorable(database_url) if n == 3 else job(n),))
            for n in range(6)
        ]
        results = await asyncio.gather(*(intake.accept(d) for d in sent), return_exceptions=True)
    finally:
        await intake.stop()
    assert batches[0] == 6  # one group commit held all six
    assert isinstance(results[3], SQLAlchemyError)
    stored = [r for n, r in enumerate(results) if n != 3]
    assert all(isinstance(r, list) and len(r) == 1 for r in stored), results
    assert await _count(ledger, deliveries) == 5 and await _count(ledger, reviews) == 5
    # Nothing of the refused delivery was kept, and a redelivery is not taken for a duplicate.
    with pytest.raises(SQLAlchemyError):
        await ledger.accept_delivery_record(sent[3])
    assert await ledger.accept_delivery_record(sent[0]) is None


@pytest.fixture
async def backend_idle_harness(backend_settings: Settings) -> AsyncIterator[Harness]:
    async with harness_for(
        backend_settings, None, start_workers=False, reviewers=lambda job: ()
    ) as h:
        yield h


async def test_a_burst_with_the_longest_names_is_accepted_whole(
    backend_idle_harness: Harness,
) -> None:
    """Six pushes delivered at once, one to a 250-character default branch (the longest that
    events.py takes) of a 140-character repository: every one is accepted and stored."""
    payloads = [push_payload(f"acme/task{n}", after=f"{n + 1:040x}") for n in range(5)]
    longest = push_payload(LONGEST_REPO, after="e" * 40, ref="refs/heads/" + "b" * 250)
    longest["repository"]["default_branch"] = "b" * 250
    payloads.insert(2, longest)
    answers = await asyncio.gather(*(
        backend_idle_harness.deliver("push", p, delivery=f"burst-{n}")
        for n, p in enumerate(payloads)
    ))
    assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
    assert [a.json()["status"] for a in answers] == ["queued"] * 6, [a.json() for a in answers]
    ledger = backend_idle_harness.services.ledger
    assert f"{LONGEST_REPO}@{'b' * 250}" in {s.job.subject for s in await ledger.unfinished()}


# --- migrations take turns -------------------------------------------------------------------


# A process of the service, reduced to its start: open the ledger and migrate it, once told to
# go (importing takes far longer than migrating, so the processes wait for each other first).
MIGRATING_PROCESS = """
import asyncio, sys
from app.ledger import Ledger

async def start(url):
    ledger = Ledger.from_url(url)
    try:
        await ledger.migrate()
    finally:
        await ledger.close()

print("ready", flush=True)
sys.stdin.readline()
asyncio.run(start(sys.argv[1]))
"""


ERROR_LINE = re.compile(r"^[\w.]+(?:Error|Exception|Violation)\b.*$", re.MULTILINE)


async def _start_together(database_url: str, processes: int) -> list[tuple[int, str]]:
    """Start the processes, let them all import, then tell them to go at once."""
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", MIGRATING_PROCESS, database_url, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    for process in started:
        assert process.stdout is not None
        assert await process.stdout.readline() == b"ready\n"
    for process in started:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
    results = [await process.communicate() for process in started]
    return [  # exit status and the error it ended with, if any
        (process.returncode or 0, " ".join(ERROR_LINE.findall(err.decode()))[-300:])
        for process, (_, err) in zip(started, results, strict=True)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
async def test_processes_started_together_on_an_empty_database_all_come_up(
    database_url: str, round_: int
) -> None:
    """Web and worker (here three processes) started at once on a database nobody migrated."""
    assert await _start_together(database_url, 3) == [(0, "")] * 3
    ledger = Ledger.from_url(database_url)
    try:
        ids = await ledger.accept_delivery(
            delivery_id="after", event="push", action=None, installation_id=1,
            repo="acme/task", outcome="queued 1", jobs=[job(1)],
        )
        assert ids is not None
        async with ledger.engine.connect() as conn:
            versions = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert len(versions.all()) == 1
    finally:
        await ledger.close()


@pytest.mark.parametrize("round_", range(3))
async def test_two_ledgers_of_one_process_migrating_together_both_succeed(
    database_url: str, round_: int
) -> None:
    ledgers = [Ledger.from_url(database_url) for _ in range(2)]
    try:
        async with asyncio.timeout(30):  # unlocked, they once waited on each other for ever
            migrating = [ledger.migrate() for ledger in ledgers]
            assert await asyncio.gather(*migrating, return_exceptions=True) == [None, None]
        assert await ledgers[1].accept_delivery_record(
            Delivery("after", "push", None, 1, "acme/task", "queued 1", (job(1),))
        )
    finally:
        for ledger in ledgers:
            await ledger.close()


# --- a failed open leaves no thread ----------------------------------------------------------


def _aiosqlite_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


@pytest.fixture
def slow_aiosqlite_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every aiosqlite thread, asked to stop, first waits until the event loop has run once
    more: the worst case of a busy machine, where the thread wakes only after the code that
    failed to open the ledger has moved on."""
    stop = aiosqlite.Connection.stop

    def slow_stop(self: aiosqlite.Connection) -> Any:
        gate = threading.Event()
        asyncio.get_running_loop().call_soon(gate.set)
        self._tx.put_nowait((None, gate.wait))
        return stop(self)

    monkeypatch.setattr(aiosqlite.Connection, "stop", slow_stop)
    yield
    for thread in _aiosqlite_threads():  # the original code left one: let it end
        thread.join(timeout=5)


@pytest.mark.parametrize(
    "where", [lambda tmp: tmp / "missing" / "ledger.db", lambda tmp: tmp], ids=["no-folder", "dir"]
)
async def test_a_ledger_that_cannot_be_opened_leaves_no_thread(
    tmp_path: Path, slow_aiosqlite_threads: None, where: Callable[[Path], Path]
) -> None:
    before = set(_aiosqlite_threads())
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{where(tmp_path)}")
    with pytest.raises(SQLAlchemyError, match="unable to open database file"):
        await ledger.migrate()
    assert set(_aiosqlite_threads()) == before
    await ledger.close()
