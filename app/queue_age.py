"""How long the oldest queued review has waited, from the ledger (the queue of record for both
the in-process and the arq queue), for /metrics and the ReloQueueOldestReviewWaiting alert."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from app.ledger import Ledger, reviews


def age_seconds(created: datetime | None, now: datetime) -> float:
    """Seconds since `created` (naive values are UTC, as SQLite returns them); 0 for none."""
    if created is None:
        return 0.0
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return max(0.0, (now - created).total_seconds())


async def oldest_queued_age(ledger: Ledger, now: datetime) -> float:
    async with ledger.engine.connect() as conn:
        created = (
            await conn.execute(
                sa.select(sa.func.min(reviews.c.created_at)).where(reviews.c.state == "queued")
            )
        ).scalar()
    return age_seconds(created, now)
