"""The embedded queue: asyncio workers fed from the ledger.

Jobs are stored in the ledger before they are enqueued here, so this queue only holds review
ids. On start, and then once per lease period, it picks up whatever the ledger says is runnable:
work a previous process left behind, or whose worker died mid-review.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.jobs.execute import LocalLocks, execute
from app.ledger import Ledger, StoredReview

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(
        self,
        ledger: Ledger,
        run: Callable[[StoredReview], Awaitable[None]],
        *,
        concurrency: int = 4,
        lease_seconds: float = 90.0,
    ) -> None:
        self._ledger = ledger
        self._run = run
        self._concurrency = concurrency
        self._lease = lease_seconds
        self._locks = LocalLocks()
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._pending: set[int] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._accepting = False

    async def size(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        self._accepting = True
        await self.sweep()
        self._workers = [
            asyncio.create_task(self._work(), name=f"review-worker-{i}")
            for i in range(self._concurrency)
        ]
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="review-sweeper")

    async def sweep(self) -> None:
        """Enqueue whatever the ledger says is runnable and is not already waiting here."""
        for review_id in await self._ledger.runnable():
            await self.enqueue(review_id)

    async def _sweep_forever(self) -> None:
        while self._accepting:
            await asyncio.sleep(self._lease)
            await self.sweep()

    async def enqueue(self, review_id: int) -> None:
        if not self._accepting or review_id in self._pending:
            return  # stored in the ledger: a later sweep or start picks it up
        self._pending.add(review_id)
        self._queue.put_nowait(review_id)

    async def join(self) -> None:
        """Wait until every enqueued review has been handled (tests and the CLI use this)."""
        await self._queue.join()

    async def stop(self, grace: float = 30.0) -> None:
        """Stop taking jobs; let running ones finish up to `grace` seconds; the rest stay queued.

        A review cut off by the grace period stays `running` in the ledger under a lease that
        runs out, and the next process runs it again.
        """
        self._accepting = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        workers, self._workers = self._workers, []
        for task in workers:
            if task not in self._busy:
                task.cancel()
        if workers:
            _, pending = await asyncio.wait(workers, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        while self._accepting:
            review_id = await self._queue.get()
            self._busy.add(me)
            try:
                await execute(
                    review_id,
                    ledger=self._ledger,
                    run=self._run,
                    lease_seconds=self._lease,
                    subject_lock=self._locks,
                )
            finally:
                self._pending.discard(review_id)
                self._busy.discard(me)
                self._queue.task_done()
