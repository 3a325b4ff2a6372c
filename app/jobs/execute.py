"""Running one stored review under the rules every queue shares.

- An older queued review of the same subject (a PR, a branch) is superseded by a newer one.
- Reviews of one subject run one at a time; the queues make a busy subject wait *without*
  holding a worker slot (see inprocess.py and arq_queue.py).
- A claim returns a fenced attempt whose lease a keeper renews. If renewal shows that another
  attempt took the review over, or the lease can no longer be renewed before it runs out, the
  attempt is stopped: it writes nothing more. A failed renewal is retried until then.
- A cancelled attempt (shutdown, arq's own time limit) hands the review straight to the next
  attempt, and the next attempt — or the give-up after the last — concludes the check run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app import logs
from app.jobs.models import CommandJob
from app.jobs.store import Attempt, JobStore, LeaseLost
from app.redis_errors import REDIS_ERRORS

log = logging.getLogger(__name__)

RunAttempt = Callable[[Attempt], Coroutine[Any, Any, None]]


class LeaseExpired(Exception):
    """The lease could not be renewed before it ran out: another worker may take over."""


async def keep_lease(
    store: JobStore,
    attempt: Attempt,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Renew the lease every third of its length; return only when it is lost."""
    lease = store.lease_seconds
    deadline = clock() + lease
    while True:
        pause = lease / 3 if clock() + lease / 3 < deadline else max(0.0, deadline - clock())
        await asyncio.sleep(pause)
        try:
            await store.renew(attempt)
            deadline = clock() + lease
        except LeaseLost:
            raise
        except (SQLAlchemyError, OSError) as exc:
            log.warning("review %s: lease renewal failed (%s)", attempt.review_id, exc)
            if clock() >= deadline:
                raise LeaseExpired(
                    f"the lease of review {attempt.review_id} ran out while the ledger failed"
                ) from exc


async def run_attempt(store: JobStore, attempt: Attempt, run: RunAttempt) -> None:
    """Run the attempt while its lease is kept; losing the lease stops it cleanly."""
    work = asyncio.create_task(run(attempt), name=f"review-{attempt.review_id}")
    keeper = asyncio.create_task(keep_lease(store, attempt), name="lease-keeper")
    try:
        await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        keeper.cancel()
        await asyncio.gather(work, keeper, return_exceptions=True)
        with contextlib.suppress(LeaseLost, SQLAlchemyError, OSError):
            await asyncio.shield(store.interrupted(attempt, "the attempt was interrupted"))
        raise
    if work.done():
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        work.result()  # the runner's own failures surface to the worker loop
        return
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    reason = keeper.exception()
    log.warning(
        "review %s attempt %s stopped: %s", attempt.review_id, attempt.number, reason
    )


async def execute(review_id: int, *, store: JobStore, run: RunAttempt) -> bool:
    """Claim the review and run it if it is still ours to run; True when it ran."""
    attempt = await store.claim(review_id)
    if attempt is None:
        return False
    logs.review_id.set(str(review_id))
    logs.delivery_id.set(attempt.job.delivery_id)
    await run_attempt(store, attempt, run)
    log.info("finished review %s (attempt %s)", review_id, attempt.number)
    return True


async def supersede_older(store: JobStore, review_id: int) -> str | None:
    """The subject of a review, after marking older queued reviews of it superseded.
    None when the review does not exist."""
    stored = await store.ledger.get(review_id)
    if stored is None:
        return None
    # A /review command supersedes nothing: its author may turn out not to be allowed.
    if not isinstance(stored.job, CommandJob):
        for older in await store.supersede_older(review_id, stored.job.subject):
            log.info("review %s superseded by review %s", older, review_id)
    return stored.job.subject


LOOP_FAILURES = (SQLAlchemyError, OSError, *REDIS_ERRORS)
