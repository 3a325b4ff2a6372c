"""The embedded queue: asyncio workers fed from the ledger.

Jobs are stored in the ledger before they are enqueued here, so this queue only holds review
ids; on start it picks up everything the last process left unfinished. Reviews of one subject
(a PR, a branch) run one at a time, and a newer review of a subject supersedes a queued older one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.ledger import Ledger, StoredReview

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(
        self,
        ledger: Ledger,
        run: Callable[[StoredReview], Awaitable[None]],
        *,
        concurrency: int = 4,
        on_superseded: Callable[[StoredReview], Awaitable[None]] | None = None,
    ) -> None:
        self._ledger = ledger
        self._run = run
        self._concurrency = concurrency
        self._on_superseded = on_superseded
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._subjects: dict[str, asyncio.Lock] = {}
        self._accepting = False
        self._busy: set[asyncio.Task[object]] = set()
        self.in_flight = 0

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        self._accepting = True
        for stored in await self._ledger.unfinished():
            self._queue.put_nowait(stored.id)
        self._workers = [
            asyncio.create_task(self._work(), name=f"review-worker-{i}")
            for i in range(self._concurrency)
        ]

    async def enqueue(self, review_id: int) -> None:
        if not self._accepting:
            return  # stored in the ledger: the next start picks it up
        self._queue.put_nowait(review_id)

    async def join(self) -> None:
        """Wait until every enqueued review has been handled (tests and the CLI use this)."""
        await self._queue.join()

    async def stop(self, grace: float = 30.0) -> None:
        """Stop taking jobs; let running ones finish up to `grace` seconds; the rest stay queued.

        A review cut off by the grace period stays `running` in the ledger, and the next start
        runs it again (its check run is found by external id, so nothing is posted twice).
        """
        self._accepting = False
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
                await self._handle(review_id)
            finally:
                self._busy.discard(me)
                self._queue.task_done()

    async def _handle(self, review_id: int) -> None:
        stored = await self._ledger.get(review_id)
        if stored is None:
            return
        lock = self._subjects.setdefault(stored.job.subject, asyncio.Lock())
        async with lock:
            for older in await self._ledger.supersede_older(review_id, stored.job.subject):
                log.info("review %s superseded by %s", older.id, review_id)
                if self._on_superseded is not None:
                    await self._on_superseded(older)
            claimed = await self._ledger.claim(review_id)
            if claimed is None:
                return
            self.in_flight += 1
            try:
                await self._run(claimed)
            finally:
                self.in_flight -= 1
