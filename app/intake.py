"""Durable intake of deliveries with group commit.

Every accepted delivery must be in the ledger before its 202 goes out, and a commit costs an
fsync. Under a burst (a deadline brings every candidate at once) requests queue here and one
writer commits all that are waiting in a single transaction, then answers each of them: the
same durability, far fewer fsyncs, and no pile-up of writers on SQLite's lock. A delivery whose
values the database refuses is answered with the error alone; the rest of its batch is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.ledger import Delivery, Ledger, Refused

log = logging.getLogger(__name__)

_Waiting = tuple[Delivery, asyncio.Future[list[int] | None]]


class Intake:
    def __init__(self, ledger: Ledger, *, max_batch: int = 128) -> None:
        self._ledger = ledger
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="delivery-intake")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        while not self._queue.empty():  # nobody will write these: say so
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("the service is shutting down"))

    async def accept(self, delivery: Delivery) -> list[int] | None:
        """The new review ids once the delivery is committed; None for a redelivery."""
        if self._writer is None:  # not started (tests, CLI): write directly
            return await self._ledger.accept_delivery_record(delivery)
        future: asyncio.Future[list[int] | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((delivery, future))
        return await future

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._ledger.accept_deliveries([d for d, _ in batch])
            except Exception as exc:  # noqa: BLE001 - forwarded to every waiting request
                # The ledger failed (database down, disk full): each waiting request answers
                # with the error instead of hanging; the writer keeps serving later requests.
                log.error("ledger write failed for %d deliveries: %s", len(batch), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the client may have gone away
                    continue
                if isinstance(result, Refused):  # only this delivery: the others are stored
                    future.set_exception(result.error)
                else:
                    future.set_result(result)
