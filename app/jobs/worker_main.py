"""`python -m app worker`: arq workers on Redis, for as many machines as the load needs.

Each worker process builds only what runs reviews (app.compose.worker_services: ledger, GitHub
client, token cache, LLM, runner) and runs reviews by id. On start, and then once per lease
period, it puts back on Redis whatever the ledger says is runnable, so a review whose worker
died is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prometheus_client import start_http_server

from app.compose import worker_services
from app.config import ConfigError, Settings
from app.jobs.arq_queue import (
    ArqQueue,
    WorkerDeps,
    close_worker,
    make_worker,
    sweep_forever,
)

log = logging.getLogger(__name__)


async def run_worker(settings: Settings) -> None:
    if not settings.queue_url:
        raise ConfigError(
            "QUEUE_URL is not set: without Redis the web process runs reviews itself "
            "(set QUEUE_URL=redis://… to run separate workers)."
        )
    async with worker_services(settings) as services:
        if settings.worker_metrics_port is not None:
            start_http_server(
                settings.worker_metrics_port, addr=settings.host,
                registry=services.metrics.registry,
            )
        queue = ArqQueue(
            settings.queue_url,
            services.store.ledger,
            queue_name=settings.queue_name,
            lease_seconds=settings.review_lease_seconds,
        )
        await queue.start()
        try:
            await queue.sweep()
            sweeper = asyncio.create_task(
                sweep_forever(queue, settings.review_lease_seconds, services.metrics)
            )
            worker = make_worker(
                settings.queue_url,
                WorkerDeps(
                    store=services.store,
                    runner=services.runner,
                    lock_timeout=settings.review_timeout_seconds + 60,
                    queue_name=settings.queue_name,
                ),
                concurrency=settings.worker_concurrency,
                job_timeout=settings.review_timeout_seconds,
                grace_seconds=int(settings.shutdown_grace_seconds),
            )
            log.info("worker started: %s reviews at a time", settings.worker_concurrency)
            try:
                await worker.async_run()
            finally:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
                await close_worker(worker)
        finally:
            await queue.stop()
