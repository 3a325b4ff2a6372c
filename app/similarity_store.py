"""Submissions' fingerprints in the ledger, and the earlier submissions a new one shares code with.

No pairwise scan: the `fingerprints.hash` index is an inverted index, so one query fetches, for
the new submission's hashes only, every other submission of the assignment holding one of them.
Each repository keeps only its latest review's fingerprints (recording a review replaces the
repository's older ones), so a cohort of N submissions holds N sets, not one per push.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger import fingerprints, reviews
from app.review.similarity import Fingerprint
from app.review.similarity_evidence import Match, regions

# A passage stored more than this many times in the ledger (every assignment, every repo) is an
# idiom or a published snippet, not evidence about one pair (MOSS's `-m` option, whose default is
# 10; larger here because a cohort here is the whole assignment's history).
COMMON = 50
# Below this share of the new submission's fingerprints, a match is not worth a reviewer's time:
# independent solutions of the fixtures' brief share none (15 normalised tokens in a row rarely
# coincide), disguised copies keep 84-93 % (tests/review/test_similarity.py); 10 % is about one
# copied function in ten, which a reviewer still wants to see.
MIN_SHARE = 0.1
# Bound parameters of one query (SQLite allows 32,766, asyncpg 32,767): about 30,000 lines.
MAX_HASHES = 20_000
_BATCH = 5_000  # rows per INSERT: well under SQLite's and asyncpg's bound-parameter limits


async def record_fingerprints(
    engine: AsyncEngine,
    review_id: int,
    assignment: str,
    repo: str,
    prints: Sequence[Fingerprint],
) -> bool:
    """Store a review's fingerprints in place of the repository's older ones; False (nothing
    stored) when a newer review of the repository already stored its own."""
    fp = fingerprints.c
    # Through `reviews.repo`'s index: `fingerprints` has none on repo, and its assignment index
    # would read the whole cohort's rows.
    mine = sa.select(reviews.c.id).where(reviews.c.repo == repo)
    same = sa.and_(fp.review_id.in_(mine.scalar_subquery()), _cohort((assignment,)))
    rows = [
        {
            "review_id": review_id,
            "assignment": assignment,
            "repo": repo,
            "hash": p.hash,
            "path": p.path,
            "start_line": p.start_line,
            "end_line": p.end_line,
        }
        for p in prints
    ]
    async with engine.begin() as conn:
        newer = await conn.execute(
            sa.select(fp.review_id).where(same, fp.review_id > review_id).limit(1)
        )
        if newer.first() is not None:
            return False
        await conn.execute(sa.delete(fingerprints).where(same, fp.review_id <= review_id))
        for start in range(0, len(rows), _BATCH):
            await conn.execute(sa.insert(fingerprints), rows[start : start + _BATCH])
    return True


async def matches(
    engine: AsyncEngine,
    assignment: str,
    repo: str,
    prints: Sequence[Fingerprint],
    *,
    limit: int = 5,
    min_share: float = MIN_SHARE,
    common: int = COMMON,
    earlier: Sequence[str] = (),
) -> list[Match]:
    """The other submissions of `assignment` (and of the `earlier` cohorts' assignment ids)
    sharing the most fingerprints with `prints`, best first, each with the exact overlap as
    evidence. `repo` never matches itself.

    A submission of more than MAX_HASHES distinct fingerprints is compared by its smallest ones,
    a consistent sample (as in MinHash): the same passage is sampled in every submission."""
    hashes = sorted({p.hash for p in prints})[:MAX_HASHES]
    if not hashes or limit <= 0:
        return []
    if len(hashes) == MAX_HASHES:
        sampled = frozenset(hashes)
        prints = [p for p in prints if p.hash in sampled]
    fp = fingerprints.c
    others = sa.and_(_cohort((assignment, *earlier)), fp.repo != repo)
    # Counted over the whole ledger, where COUNT(*) is answered from the hash index alone: a
    # passage common in any cohort is an idiom (a narrower count would read every posting's row).
    usual = (
        sa.select(fp.hash)
        .where(fp.hash.in_(hashes))
        .group_by(fp.hash)
        .having(sa.func.count() <= common)
    )
    query = sa.select(fp.review_id, fp.repo, fp.hash, fp.path, fp.start_line, fp.end_line).where(
        others, fp.hash.in_(usual)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        ranked = await asyncio.to_thread(_rank, rows, len(hashes), limit, min_share)
        if not ranked:
            return []
        counted = await conn.execute(
            sa.select(fp.review_id, sa.func.count(sa.distinct(fp.hash)))
            .where(fp.review_id.in_([review for review, _, _ in ranked]))
            .group_by(fp.review_id)
        )
        totals = {int(review): int(count) for review, count in counted}
    return await asyncio.to_thread(_evidence, ranked, totals, prints, len(hashes))


def _cohort(assignments: Sequence[str]) -> sa.ColumnElement[bool]:
    """`assignment IN (...)` that no planner answers from the assignment's index: it selects a whole
    cohort, and SQLite (without ANALYZE's statistics) prefers it to the selective hash or review
    index, reading every row of the cohort. `|| ''` keeps the meaning and hides the index."""
    return (fingerprints.c.assignment + "").in_(assignments)


Ranked = list[tuple[int, str, list[Fingerprint]]]  # review id, repo, common fingerprints


def _rank(rows: Sequence[Any], ours: int, limit: int, min_share: float) -> Ranked:
    """The top candidates (latest review of each repository) with their common fingerprints."""
    latest: dict[str, int] = {}
    repos: dict[int, str] = {}
    found: dict[int, list[Fingerprint]] = defaultdict(list)
    for review_id, other_repo, h, path, start, end in rows:
        latest[other_repo] = max(review_id, latest.get(other_repo, review_id))
        repos[review_id] = other_repo
        found[review_id].append(Fingerprint(h, path, start, end))
    scored = [(len({p.hash for p in found[review]}), review) for review in set(latest.values())]
    scored = [s for s in scored if s[0] / ours >= min_share]
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [(review, repos[review], found[review]) for _, review in scored[:limit]]


def _evidence(
    ranked: Ranked, totals: dict[int, int], prints: Sequence[Fingerprint], ours: int
) -> list[Match]:
    out = []
    for review, repo, theirs in ranked:
        shared = len({p.hash for p in theirs})
        out.append(
            Match(
                repo=repo,
                review_id=review,
                shared=shared,
                share=shared / ours,
                their_share=shared / max(totals.get(review, shared), 1),
                regions=regions(prints, theirs),
            )
        )
    return out
