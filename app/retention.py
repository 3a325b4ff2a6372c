"""Retention: what the ledger keeps about a candidate's code, and for how long.

A finished review older than the retention period loses everything derived from the
submission's text: its findings (messages quote code), similarity fingerprints, history signals
(commit messages, names, e-mails), similarity matches, hidden-test results, and the PR title and
body kept in its job. Stored LLM assessments older than the period go too (they are keyed by
content, not by review). What stays is the review's outcome: repository, head, state,
conclusion, score and points per criterion, flags, lateness and cost, so `report` still counts
the submission. Unfinished reviews are never touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ledger import UNFINISHED, Ledger, findings, fingerprints, llm_results, reviews

_CANDIDATE_TEXT = ("title", "body")  # a PullRequestJob's PR text as delivered
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Purged:
    reviews: int  # finished reviews that had data to clear
    findings: int
    fingerprints: int
    llm_results: int


def _old(before: datetime) -> Any:
    return sa.and_(
        reviews.c.state.not_in(UNFINISHED),
        reviews.c.finished_at.is_not(None),
        reviews.c.finished_at < before,
    )


def _has_data() -> Any:
    return sa.or_(
        reviews.c.history.is_not(None),
        reviews.c.similarity.is_not(None),
        reviews.c.tests_result.is_not(None),
        sa.exists().where(findings.c.review_id == reviews.c.id),
        sa.exists().where(fingerprints.c.review_id == reviews.c.id),
    )


async def _count(conn: AsyncConnection, query: Any) -> int:
    return int((await conn.execute(query)).scalar_one())


def _scrubbed(text: str) -> str | None:
    """The job without the candidate's PR text, or None when it holds none."""
    data = json.loads(text)
    if not isinstance(data, dict) or not any(data.get(k) for k in _CANDIDATE_TEXT):
        return None
    return json.dumps({**data, **dict.fromkeys(_CANDIDATE_TEXT)})


async def _jobs_with_text(conn: AsyncConnection, old: Any) -> list[tuple[int, str]]:
    rows = (
        await conn.execute(
            sa.select(reviews.c.id, reviews.c.job).where(
                old,
                reviews.c.number.is_not(None),
                # json.dumps writes `"title": null` once scrubbed: those are not read again
                sa.or_(*(reviews.c.job.contains(f'"{k}": "') for k in _CANDIDATE_TEXT)),
            )
        )
    ).all()
    found = []
    for review_id, text in rows:
        scrubbed = _scrubbed(text)
        if scrubbed is not None:
            found.append((int(review_id), scrubbed))
    return found


async def purge(ledger: Ledger, *, before: datetime, dry_run: bool = False) -> Purged:
    """Clear what reviews finished before `before` stored about the code, in one transaction;
    with `dry_run`, only count it."""
    old = _old(before)
    old_ids = sa.select(reviews.c.id).where(old).scalar_subquery()
    async with ledger.engine.begin() as conn:
        jobs = await _jobs_with_text(conn, old)
        with_data = sa.or_(_has_data(), reviews.c.id.in_([i for i, _ in jobs]))
        counts = Purged(
            reviews=await _count(
                conn, sa.select(sa.func.count()).select_from(reviews).where(old, with_data)
            ),
            findings=await _count(
                conn, sa.select(sa.func.count()).where(findings.c.review_id.in_(old_ids))
            ),
            fingerprints=await _count(
                conn, sa.select(sa.func.count()).where(fingerprints.c.review_id.in_(old_ids))
            ),
            llm_results=await _count(
                conn, sa.select(sa.func.count()).where(llm_results.c.created_at < before)
            ),
        )
        if dry_run:
            return counts
        await conn.execute(findings.delete().where(findings.c.review_id.in_(old_ids)))
        await conn.execute(fingerprints.delete().where(fingerprints.c.review_id.in_(old_ids)))
        await conn.execute(llm_results.delete().where(llm_results.c.created_at < before))
        await conn.execute(
            reviews.update().where(old).values(history=None, similarity=None, tests_result=None)
        )
        for start in range(0, len(jobs), _BATCH):
            await conn.execute(
                reviews.update()
                .where(reviews.c.id == sa.bindparam("rid"))
                .values(job=sa.bindparam("scrubbed")),
                [{"rid": i, "scrubbed": text} for i, text in jobs[start : start + _BATCH]],
            )
    return counts
