"""Scale-out: review ids on Redis through arq, run by `python -m app worker` on any machine.

The ledger stays the source of truth: the web process stores the job, then enqueues only its id.
Job ids carry the attempt number, since arq refuses an id it has seen within `keep_result`, and a
review whose worker died must be enqueueable again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func
from redis.exceptions import LockError

from app.jobs.execute import execute, supersede_older
from app.jobs.runner import Runner
from app.jobs.store import JobStore
from app.ledger import Ledger
from app.metrics import Metrics

log = logging.getLogger(__name__)

FUNCTION = "run_review"
PARK_SECONDS = 0.5  # how soon a review whose PR is busy is tried again
# arq's own limit sits above the job's (REVIEW_TIMEOUT_SECONDS covers lock, auth, publishing),
# leaving the job time to conclude its check run when its own limit fires.
ARQ_TIMEOUT_MARGIN = 120.0


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

    def health(self) -> list[str]:
        return []  # the web side runs no loops: workers are separate processes

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
    """Subject locks across machines: reviews of one PR never run side by side. A busy subject
    is not waited for: the caller re-enqueues the review for later and frees its slot."""

    def __init__(self, redis: ArqRedis, timeout: float, prefix: str) -> None:
        self._redis = redis
        self._timeout = timeout
        self._prefix = prefix

    @contextlib.asynccontextmanager
    async def __call__(self, subject: str) -> AsyncIterator[bool]:
        lock = self._redis.lock(f"{self._prefix}:subject:{subject}", timeout=self._timeout)
        if not await lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            with contextlib.suppress(LockError):
                await lock.release()


async def run_review(ctx: dict[str, Any], review_id: int) -> bool:
    deps: WorkerDeps = ctx["relo"]
    subject = await supersede_older(deps.store, review_id)
    if subject is None:
        return False
    locks = RedisLocks(ctx["redis"], deps.lock_timeout, deps.queue_name)
    async with locks(subject) as held:
        if held:
            return await execute(review_id, store=deps.store, run=deps.runner.run)
    # Another worker is reviewing this PR: come back shortly rather than hold this slot.
    redis: ArqRedis = ctx["redis"]
    await redis.enqueue_job(
        FUNCTION, review_id,
        _job_id=f"{deps.queue_name}:review:{review_id}:parked:{uuid.uuid4().hex}",
        _defer_by=PARK_SECONDS,
        _queue_name=deps.queue_name,
    )
    return False


class WorkerDeps:
    def __init__(
        self,
        *,
        store: JobStore,
        runner: Runner,
        lock_timeout: float,
        queue_name: str = "relo:reviews",
    ) -> None:
        self.queue_name = queue_name
        self.store = store
        self.runner = runner
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
        job_timeout=job_timeout + ARQ_TIMEOUT_MARGIN,
        keep_result=3600,
        poll_delay=0.05,
        ctx={"relo": deps},
        handle_signals=handle_signals,
        job_completion_wait=grace_seconds,
        max_tries=3,
    )


async def sweep_forever(queue: ArqQueue, every: float, metrics: Metrics) -> None:
    """Put back on Redis what the ledger says is runnable; no failure ends this loop."""
    while True:
        await asyncio.sleep(every)
        try:
            await queue.sweep()
        except Exception:  # the loop boundary: log, count, keep sweeping
            log.exception("sweep failed; retrying in %.0f s", every)
            metrics.loop_errors.labels(loop="sweeper").inc()


async def close_worker(worker: Worker) -> None:
    """arq's own `close` calls a deprecated redis-py method; close the pool the current way."""
    if worker._pool is not None:
        await worker.pool.delete(worker.health_check_key)
        await worker.pool.aclose()
        worker._pool = None
