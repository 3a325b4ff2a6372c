"""Fingerprints in the real ledger (SQLite and PostgreSQL): a new submission finds the earlier one
it copied, with the regions side by side; the starter, independent work, other assignments, the
repository itself and superseded reviews do not match."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import similarity_store
from app.jobs.models import PushJob
from app.ledger import Ledger, fingerprints
from app.review.similarity import Fingerprint, fingerprint_file
from app.similarity_store import matches, record_fingerprints
from tests.review.test_similarity import added_lines, read

ASSIGNMENT = "bank-ledger"


@pytest.fixture(params=["sqlite", "postgres"])
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ledger]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    else:
        from tests.services import fresh_postgres

        url = (await fresh_postgres()).replace("postgresql://", "postgresql+asyncpg://", 1)
    opened = Ledger.from_url(url)
    await opened.migrate()
    yield opened
    await opened.close()


async def review(ledger: Ledger, repo: str, n: int) -> int:
    job = PushJob(
        installation_id=1,
        repo=repo,
        head_sha=f"{n:040x}",
        delivery_id=f"d{n}",
        event="push",
        received_at="2026-12-05T00:00:00+00:00",
        ref="main",
    )
    return await ledger.enqueue_job(job)


def prints(lang: str, ext: str, name: str, path: str | None = None) -> list[Fingerprint]:
    text = read(lang, ext, name)
    own = added_lines(read(lang, ext, "starter"), text)
    return fingerprint_file(path or f"ledger.{ext}", text, own)


async def store(ledger: Ledger, repo: str, n: int, fps: list[Fingerprint], **kw: str) -> int:
    review_id = await review(ledger, repo, n)
    assert await record_fingerprints(
        ledger.engine, review_id, kw.get("assignment", ASSIGNMENT), repo, fps
    )
    return review_id


@pytest.mark.parametrize(("lang", "ext"), [("python", "py"), ("javascript", "js")])
async def test_a_disguised_copy_matches_the_original_with_regions(
    ledger: Ledger, lang: str, ext: str
) -> None:
    original = prints(lang, ext, "original", f"src/ledger.{ext}")
    first = await store(ledger, "org/task-ann", 1, original)
    await store(ledger, "org/task-cy", 2, prints(lang, ext, "independent"))
    await store(ledger, "org/other-dan", 3, original, assignment="another-assignment")

    disguised = prints(lang, ext, "disguised", f"bank.{ext}")
    found = await matches(ledger.engine, ASSIGNMENT, "org/task-bob", disguised)

    assert [(m.repo, m.review_id) for m in found] == [("org/task-ann", first)]
    top = found[0]
    assert top.share >= 0.6 and top.their_share >= 0.6
    assert top.shared == len({p.hash for p in original} & {p.hash for p in disguised})
    assert top.regions and all(
        r.path == f"bank.{ext}" and r.other_path == f"src/ledger.{ext}" for r in top.regions
    )
    assert sum(r.prints for r in top.regions) >= top.shared * 0.8


async def test_independent_work_and_the_starter_do_not_match(ledger: Ledger) -> None:
    await store(ledger, "org/task-ann", 1, prints("python", "py", "original"))
    independent = prints("python", "py", "independent")
    assert await matches(ledger.engine, ASSIGNMENT, "org/task-cy", independent) == []
    # Two submissions that changed nothing of their own have nothing to compare.
    starter = read("python", "py", "starter")
    assert fingerprint_file("ledger.py", starter, added_lines(starter, starter)) == []


async def test_only_the_latest_review_of_a_repository_counts_and_never_itself(
    ledger: Ledger,
) -> None:
    original = prints("python", "py", "original")
    old = await store(ledger, "org/task-ann", 1, original)
    newer = await store(ledger, "org/task-ann", 2, prints("python", "py", "independent"))
    # The newer review replaced the older one's fingerprints ...
    async with ledger.engine.connect() as conn:
        ids = set((await conn.execute(sa.select(fingerprints.c.review_id))).scalars())
    assert ids == {newer}
    # ... and a late writer of an older review does not bring them back.
    assert not await record_fingerprints(ledger.engine, old, ASSIGNMENT, "org/task-ann", original)
    disguised = prints("python", "py", "disguised")
    assert await matches(ledger.engine, ASSIGNMENT, "org/task-bob", disguised) == []

    await store(ledger, "org/task-bob", 3, disguised)
    assert await matches(ledger.engine, ASSIGNMENT, "org/task-bob", disguised) == []
    found = await matches(ledger.engine, ASSIGNMENT, "org/task-eve", original)
    assert [m.repo for m in found] == ["org/task-bob"]


async def test_passages_in_many_submissions_are_idioms_and_limit_caps(ledger: Ledger) -> None:
    original = prints("python", "py", "original")
    for n in range(4):
        await store(ledger, f"org/task-{n}", n + 1, original)
    found = await matches(ledger.engine, ASSIGNMENT, "org/task-new", original, limit=2)
    assert len(found) == 2 and all(m.share == 1.0 for m in found)
    # Stored by more than `common` submissions, a passage is no evidence about any one pair.
    assert await matches(ledger.engine, ASSIGNMENT, "org/task-new", original, common=3) == []


async def test_earlier_cohorts_count_only_when_named(ledger: Ledger) -> None:
    await store(ledger, "org/task-ann", 1, prints("python", "py", "original"), assignment="2025")
    disguised = prints("python", "py", "disguised")
    assert await matches(ledger.engine, ASSIGNMENT, "org/task-bob", disguised) == []
    found = await matches(ledger.engine, ASSIGNMENT, "org/task-bob", disguised, earlier=["2025"])
    assert [m.repo for m in found] == ["org/task-ann"] and found[0].share >= 0.6


async def test_a_huge_submission_is_compared_by_a_consistent_sample(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = prints("python", "py", "original")
    await store(ledger, "org/task-ann", 1, original)
    monkeypatch.setattr(similarity_store, "MAX_HASHES", 30)
    found = await matches(ledger.engine, ASSIGNMENT, "org/task-bob", original)
    assert [m.repo for m in found] == ["org/task-ann"]
    assert found[0].shared == 30 and found[0].share == 1.0
    smallest = set(sorted({p.hash for p in original})[:30])
    assert sum(r.prints for r in found[0].regions) <= len(
        [p for p in original if p.hash in smallest]
    )
