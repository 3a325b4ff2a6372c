"""Running one stored review under the rules every queue shares.

- Reviews of one subject (a PR, a branch) run one at a time: `subject_lock`.
- An older queued review of the same subject is superseded by a newer one.
- A review is claimed with a lease that a heartbeat keeps extending; if the worker dies, the
  lease runs out and any worker may claim the review again. The check run is found again by
  its external id, so a second attempt posts nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from app import logs
from app.ledger import Ledger, StoredReview

log = logging.getLogger(__name__)

SubjectLock = Callable[[str], AbstractAsyncContextManager[object]]


class LocalLocks:
    """Subject locks for one process (the embedded queue); forgotten when nobody holds them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def __call__(self, subject: str) -> AsyncIterator[object]:
        lock, users = self._locks.get(subject, (asyncio.Lock(), 0))
        self._locks[subject] = (lock, users + 1)
        try:
            async with lock:
                yield lock
        finally:
            lock, users = self._locks[subject]
            if users == 1:
                del self._locks[subject]
            else:
                self._locks[subject] = (lock, users - 1)


async def _heartbeat(ledger: Ledger, review_id: int, lease_seconds: float) -> None:
    while True:
        await asyncio.sleep(lease_seconds / 3)
        await ledger.extend_lease(review_id, lease_seconds)


async def execute(
    review_id: int,
    *,
    ledger: Ledger,
    run: Callable[[StoredReview], Awaitable[None]],
    lease_seconds: float,
    subject_lock: SubjectLock,
) -> bool:
    """Run the review if it is still ours to run; True when it ran."""
    stored = await ledger.get(review_id)
    if stored is None:
        return False
    logs.review_id.set(str(review_id))
    logs.delivery_id.set(stored.job.delivery_id)
    async with subject_lock(stored.job.subject):
        # A /review command supersedes nothing: its author may turn out not to be allowed.
        if stored.job.comment_id is None:
            for older in await ledger.supersede_older(review_id, stored.job.subject):
                log.info("review %s superseded by review %s", older.id, review_id)
        claimed = await ledger.claim(review_id, lease_seconds)
        if claimed is None:
            return False
        beat = asyncio.create_task(_heartbeat(ledger, review_id, lease_seconds))
        try:
            await run(claimed)
            log.info("finished review %s (attempt %s)", review_id, claimed.attempts)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
    return True
