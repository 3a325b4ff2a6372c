"""The embedded queue: asyncio workers fed from the ledger.

Jobs are stored in the ledger before they are enqueued here, so this queue only holds review
ids. On start, and then once per lease period, it picks up whatever the ledger says is runnable:
work a previous process left behind, or whose worker died mid-review.

A review whose subject (PR, branch) is already being reviewed is parked, not waited for: the
worker slot goes to the next review, and the parked ones return to the queue when the subject
is free. Workers and the sweeper survive any failure of one review or of the ledger; `health`
says when one is gone anyway, and /readyz reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.jobs.execute import LOOP_FAILURES, RunAttempt, execute, supersede_older
from app.jobs.store import JobStore
from app.metrics import Metrics

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(
        self,
        store: JobStore,
        run: RunAttempt,
        *,
        concurrency: int = 4,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._run = run
        self._concurrency = concurrency
        self._lease = store.lease_seconds
        self._metrics = metrics or Metrics()
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._pending: set[int] = set()
        self._busy_subjects: set[str] = set()
        self._parked: dict[str, list[int]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._accepting = False

    async def size(self) -> int:
        return self._queue.qsize() + sum(len(ids) for ids in self._parked.values())

    def health(self) -> list[str]:
        """What is wrong with this queue's loops; empty when all are running."""
        if not self._accepting:
            return []
        problems = [f"{t.get_name()} stopped" for t in self._workers if t.done()]
        if self._sweeper is not None and self._sweeper.done():
            problems.append("the sweeper stopped")
        return problems

    async def start(self) -> None:
        self._accepting = True
        with contextlib.suppress(*LOOP_FAILURES):
            await self.sweep()  # a failing ledger here is retried by the sweeper
        self._workers = [
            asyncio.create_task(self._work(), name=f"review-worker-{i}")
            for i in range(self._concurrency)
        ]
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="review-sweeper")

    async def sweep(self) -> None:
        """Enqueue whatever the ledger says is runnable and is not already waiting here."""
        for review_id in await self._store.ledger.runnable():
            await self.enqueue(review_id)

    async def _sweep_forever(self) -> None:
        while self._accepting:
            await asyncio.sleep(self._lease)
            try:
                await self.sweep()
            except Exception:  # the loop boundary: log, count, keep sweeping
                log.exception("sweep failed; retrying in %.0f s", self._lease)
                self._metrics.loop_errors.labels(loop="sweeper").inc()

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

        A review cut off by the grace period is handed back to the ledger as interrupted, and
        the next process runs it again.
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
                await self._handle(review_id)
            except Exception:  # the loop boundary: one review or a ledger error never ends a worker
                log.exception("review %s: the worker failed; the sweeper will retry", review_id)
                self._metrics.loop_errors.labels(loop="worker").inc()
            finally:
                self._pending.discard(review_id)
                self._busy.discard(me)
                self._queue.task_done()

    async def _handle(self, review_id: int) -> None:
        subject = await supersede_older(self._store, review_id)
        if subject is None:
            return
        if subject in self._busy_subjects:
            self._parked.setdefault(subject, []).append(review_id)
            return
        self._busy_subjects.add(subject)
        try:
            await execute(review_id, store=self._store, run=self._run)
        finally:
            self._busy_subjects.discard(subject)
            for parked in self._parked.pop(subject, []):
                self._pending.discard(parked)
                await self.enqueue(parked)
