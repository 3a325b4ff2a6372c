"""Group commit: a burst of deliveries is committed in few transactions, each answered only
after its own delivery is durable, duplicates refused even within one batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from app.intake import Intake
from app.jobs.models import PushJob, ReviewJob
from app.ledger import Delivery, Ledger, deliveries, reviews
from tests.conftest import Harness
from tests.support import push_payload


def job(n: int) -> ReviewJob:
    return PushJob(
        installation_id=1, repo="acme/t", head_sha=f"{n:040x}",
        delivery_id=f"d{n}", event="push", received_at="2026-11-30T00:00:00+00:00", ref="main",
    )


async def test_a_burst_is_committed_in_batches_and_duplicates_are_refused(tmp_path: Path) -> None:
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    await ledger.migrate()
    intake = Intake(ledger, max_batch=16)
    await intake.start()
    commits = 0
    original = ledger.accept_deliveries

    async def counting(batch: list[Delivery]) -> list[list[int] | None]:
        nonlocal commits
        commits += 1
        return await original(batch)

    ledger.accept_deliveries = counting  # type: ignore[method-assign]
    try:
        ids = [f"d{n % 40}" for n in range(50)]  # ten redeliveries among fifty
        results = await asyncio.gather(*(
            intake.accept(Delivery(i, "push", None, 1, "acme/t", "queued 1", (job(n),)))
            for n, i in enumerate(ids)
        ))
    finally:
        await intake.stop()
    accepted = [r for r in results if r is not None]
    assert len(accepted) == 40 and all(len(r) == 1 for r in accepted)
    assert len({r[0] for r in accepted}) == 40
    assert results[40:] == [None] * 10
    assert commits < 10  # 50 requests, a handful of transactions
    async with ledger.engine.connect() as conn:
        for table in (deliveries, reviews):
            count = sa.select(sa.func.count()).select_from(table)
            assert (await conn.execute(count)).scalar() == 40
    await ledger.close()


async def test_a_ledger_that_fails_answers_503_and_the_next_delivery_works(
    idle_harness: Harness,
) -> None:
    ledger = idle_harness.services.ledger
    original = ledger.accept_deliveries
    failures = [OSError("disk full")]

    async def flaky(batch: list[Delivery]) -> list[list[int] | None]:
        if failures:
            raise failures.pop()
        return await original(batch)

    ledger.accept_deliveries = flaky  # type: ignore[method-assign]
    payload = push_payload("acme/task", after="a" * 40)
    response = await idle_harness.deliver("push", payload, delivery="x-1")
    assert response.status_code == 503 and "ledger" in response.json()["error"]
    again = await idle_harness.deliver("push", payload, delivery="x-1")
    assert again.status_code == 202  # GitHub's redelivery is accepted: nothing was stored
