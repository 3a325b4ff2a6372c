"""Scale-out: review ids on Redis through arq, run by `python -m app worker` on any machine.

The ledger stays the source of truth: the web process stores the job, then enqueues only its id.
Job ids carry the attempt number, since arq refuses an id it has seen within `keep_result`, and a
review whose worker died must be enqueueable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from app.jobs.execute import execute
from app.jobs.runner import Runner
from app.ledger import Ledger

log = logging.getLogger(__name__)

FUNCTION = "run_review"


class ArqQueue:
    """The web side: put review ids on Redis."""

    def __init__(
        self,
        redis_url: str,
        ledger: Ledger,
        *,
        queue_name: str = "relo:reviews",
        lease_seconds: float = 90.0,
    ) -> None:
        self._settings = RedisSettings.from_dsn(redis_url)
        self.queue_name = queue_name
        self._ledger = ledger
        self._lease = lease_seconds
        self._pool: ArqRedis | None = None

    @property
    def pool(self) -> ArqRedis:
        if self._pool is None:
            raise RuntimeError("the queue is not started")
        return self._pool

    async def start(self) -> None:
        self._pool = await create_pool(self._settings, default_queue_name=self.queue_name)

    async def enqueue(self, review_id: int, attempt: int = 0) -> None:
        await self.pool.enqueue_job(
            FUNCTION, review_id, _job_id=f"{self.queue_name}:review:{review_id}:{attempt}"
        )

    async def size(self) -> int:
        return int(await self.pool.zcard(self.queue_name))

    async def ping(self) -> None:
        await self.pool.ping()

    async def sweep(self) -> None:
        """Re-enqueue reviews whose worker died (expired lease) or that never reached Redis."""
        for review_id in await self._ledger.runnable():
            stored = await self._ledger.get(review_id)
            if stored is not None:
                await self.enqueue(review_id, stored.attempts)

    async def stop(self, grace: float = 30.0) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


class RedisLocks:
    """Subject locks across machines: reviews of one PR never run side by side."""

    def __init__(self, redis: ArqRedis, timeout: float, prefix: str) -> None:
        self._redis = redis
        self._timeout = timeout
        self._prefix = prefix

    @contextlib.asynccontextmanager
    async def __call__(self, subject: str) -> AsyncIterator[object]:
        lock = self._redis.lock(
            f"{self._prefix}:subject:{subject}", timeout=self._timeout, sleep=0.05
        )
        async with lock:
            yield lock


async def run_review(ctx: dict[str, Any], review_id: int) -> bool:
    deps: WorkerDeps = ctx["relo"]
    return await execute(
        review_id,
        ledger=deps.ledger,
        run=deps.runner.run,
        lease_seconds=deps.lease_seconds,
        subject_lock=RedisLocks(ctx["redis"], deps.lock_timeout, deps.queue_name),
    )


class WorkerDeps:
    def __init__(
        self,
        *,
        ledger: Ledger,
        runner: Runner,
        lease_seconds: float,
        lock_timeout: float,
        queue_name: str = "relo:reviews",
    ) -> None:
        self.queue_name = queue_name
        self.ledger = ledger
        self.runner = runner
        self.lease_seconds = lease_seconds
        self.lock_timeout = lock_timeout


def make_worker(
    redis_url: str,
    deps: WorkerDeps,
    *,
    concurrency: int,
    job_timeout: float,
    burst: bool = False,
    handle_signals: bool = True,
    grace_seconds: int = 30,
) -> Worker:
    return Worker(
        functions=[func(run_review, name=FUNCTION)],
        queue_name=deps.queue_name,
        redis_settings=RedisSettings.from_dsn(redis_url),
        burst=burst,
        max_jobs=concurrency,
        job_timeout=job_timeout,
        keep_result=3600,
        poll_delay=0.05,
        ctx={"relo": deps},
        handle_signals=handle_signals,
        job_completion_wait=grace_seconds,
        max_tries=3,
    )


async def sweep_forever(queue: ArqQueue, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await queue.sweep()


async def close_worker(worker: Worker) -> None:
    """arq's own `close` calls a deprecated redis-py method; close the pool the current way."""
    if worker._pool is not None:
        await worker.pool.delete(worker.health_check_key)
        await worker.pool.aclose()
        worker._pool = None
