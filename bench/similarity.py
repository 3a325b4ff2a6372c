"""7. Similarity: checking a new submission against a large cohort, in the real ledger.

The cohort grows from 100 to 2,000 stored submissions (BENCH_QUICK: 50 to 200) of an assignment,
each holding as many fingerprints as a real ~2,000-line submission yields (measured on the new
one, `bench/synthetic.py`'s lines of the standard library, fingerprinted by
`app/review/similarity.py`). Stored fingerprints are synthetic, since fingerprinting 4 million
lines would take the whole budget: random 64-bit hashes on plausible paths and lines, plus what
makes the query work: idioms (200 of the new submission's hashes, about 20 in every stored
submission, so each is stored ~10 % of the cohort's times and is dropped as common), chance
collisions (2 of its hashes in each), and one copy per 500 submissions (60 % of its fingerprints,
in order), which must come back as the top matches with their regions.

At each size: the check (fingerprint the new submission, then `similarity_store.matches`), timed
as the median of 5 runs; tracemalloc's peak over one check, and the process's peak RSS (which
includes loading the cohort). The RATIO is the matching time at the largest cohort over the
smallest: a pairwise scan would grow with the cohort (20x), the inverted index should not.
SQLite always; PostgreSQL too when reachable (`BENCH_POSTGRES`, its own database
`relo_bench_similarity`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import resource
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.ledger import Ledger, reviews, utcnow
from app.review.similarity import Fingerprint, fingerprint_files
from app.review.similarity_evidence import Match
from app.similarity_store import matches, record_fingerprints
from bench.common import Result, header, quick
from bench.synthetic import synthetic_change
from tests.review.test_similarity import added_lines

STEPS = (50, 200) if quick() else (100, 500, 2000)
LINES = 2000
REPEATS = 3 if quick() else 5
COPY_EVERY = 500
ASSIGNMENT = "bench-similarity"
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "relo_bench_similarity"
_SIGN = 1 << 63


def new_submission() -> tuple[list[Fingerprint], float]:
    """The new submission's fingerprints and the median time to make them."""
    inputs = _inputs()
    times, prints = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        prints = fingerprint_files(inputs)
        times.append(time.perf_counter() - started)
    return prints, statistics.median(times)


def stored(rng: random.Random, index: int, new: Sequence[Fingerprint]) -> list[Fingerprint]:
    """One synthetic stored submission with as many fingerprints as the new one."""
    hashes = [rng.getrandbits(64) - _SIGN for _ in range(len(new))]
    idioms = [p.hash for p in new[:200]]
    for slot in rng.sample(range(len(hashes)), 22):
        hashes[slot] = rng.choice(idioms) if slot % 11 else rng.choice(new).hash
    copied = index % COPY_EVERY == 7
    if copied:  # a copy: 60 % of the new submission's fingerprints, in order
        start = rng.randrange(0, len(new) // 3)
        block = new[start : start + len(new) * 6 // 10]
        hashes[start : start + len(block)] = [p.hash for p in block]
    return [
        Fingerprint(h, f"solution/part{i // 120}.py", 2 + (i % 120) * 3, 4 + (i % 120) * 3)
        for i, h in enumerate(hashes)
    ]


COLUMNS = ("review_id", "assignment", "repo", "hash", "path", "start_line", "end_line")


def _rows(rng: random.Random, first: int, last: int, new: Sequence[Fingerprint]) -> list[Any]:
    return [
        (i + 1, ASSIGNMENT, f"org/task-{i}", p.hash, p.path, p.start_line, p.end_line)
        for i in range(first, last)
        for p in stored(rng, i, new)
    ]


async def grow(url: str, have: int, want: int, new: Sequence[Fingerprint]) -> None:
    """Store submissions `have`..`want`-1, reviews and fingerprints, with the database's own bulk
    loader (SQLite's executemany without fsync, PostgreSQL's COPY): loading is not what is
    measured, and 2.5 million rows through the ORM would take most of the budget."""
    rng = random.Random(have)
    reviews_rows = [
        (i + 1, f"org/task-{i}", f"org/task-{i}@main", f"{i:040x}", "{}", "done", ASSIGNMENT)
        for i in range(have, want)
    ]
    if url.startswith("sqlite"):
        # In a process of its own: the loader's page cache must not count as the check's memory.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            await asyncio.get_running_loop().run_in_executor(
                pool, _grow_sqlite, url.split("///", 1)[1], reviews_rows, rng, list(new)
            )
        return
    conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'fingerprints'"
        " AND indexname LIKE 'ix_%'"
    )
    try:
        # Bulk-load practice: drop the secondary indexes, COPY, build them again (same names).
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        await conn.executemany(
            _REVIEW_INSERT.replace("?", "$%d") % (1, 2, 3, 4, 5, 6, 7), reviews_rows
        )
        for first in range(have, want, 100):
            rows = _rows(rng, first, min(first + 100, want), new)
            await conn.copy_records_to_table("fingerprints", records=rows, columns=COLUMNS)
    finally:
        for _, definition in indexes:
            await conn.execute(definition)
    try:
        # What autovacuum does to a table this size (statistics, and the visibility map that
        # lets the hash index answer counts alone); the SQLite ledger never runs ANALYZE, so
        # neither does the benchmark there.
        await conn.execute("VACUUM ANALYZE fingerprints")
        await conn.execute("VACUUM ANALYZE reviews")
    finally:
        await conn.close()


_REVIEW_INSERT = (
    "INSERT INTO reviews (id, repo, subject, head_sha, job, state, assignment, attempts, flags,"
    " late, prompt_tokens, completion_tokens, cost_usd, waits, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, false, 0, 0, 0, 0, CURRENT_TIMESTAMP)"
)


def _grow_sqlite(
    path: str, reviews_rows: list[Any], rng: random.Random, new: Sequence[Fingerprint]
) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-131072")  # 128 MiB while loading (the check's RSS is reset)
        with db:
            db.executemany(_REVIEW_INSERT, reviews_rows)
        first, want = reviews_rows[0][0] - 1, reviews_rows[-1][0]
        insert = f"INSERT INTO fingerprints ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        for start in range(first, want, 100):
            with db:
                db.executemany(insert, _rows(rng, start, min(start + 100, want), new))
    finally:
        db.close()


async def check(engine: AsyncEngine, new: Sequence[Fingerprint]) -> tuple[float, list[Match]]:
    times: list[float] = []
    found: list[Match] = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        found = await matches(engine, ASSIGNMENT, "org/task-new", new)
        times.append(time.perf_counter() - started)
    return statistics.median(times), found


def _reset_peak_rss() -> bool:
    """Linux: start the process's peak RSS (VmHWM) afresh, so it covers the check only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def one_database(result: Result, label: str, url: str) -> None:
    new, fp_seconds = new_submission()
    ledger = Ledger.from_url(url)
    await ledger.migrate()
    engine = ledger.engine
    result.say(
        f"{label}: new submission {LINES} changed lines -> {len(new)} fingerprints in "
        f"{fp_seconds * 1000:.0f} ms"
    )
    figures: list[tuple[int, float]] = []
    have = 0
    try:
        for size in STEPS:
            started = time.perf_counter()
            await grow(url, have, size, new)
            have = size
            load = time.perf_counter() - started
            seconds, found = await check(engine, new)
            figures.append((size, seconds))
            copies = sum(1 for i in range(size) if i % COPY_EVERY == 7)
            top = ", ".join(f"{m.repo} {m.share:.0%} ({len(m.regions)} regions)" for m in found)
            result.say(
                f"  {size:>5} stored ({size * len(new):,} rows, loaded in {load:.1f} s): "
                f"match {seconds * 1000:.0f} ms; found {top or 'none'}"
            )
            result.check(
                f"{label}: the planted copies found among {size}",
                f"{len(found)}",
                f"{copies}",
                len(found) == copies and all(m.share >= 0.5 for m in found),
            )
        reset = _reset_peak_rss()
        tracemalloc.start()
        started = time.perf_counter()
        prints = fingerprint_files(_inputs())
        await matches(engine, ASSIGNMENT, "org/task-new", prints)
        once = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss = _peak_rss_mib()
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(reviews).values(
                    id=10**6,
                    repo="org/task-new",
                    subject="org/task-new@main",
                    head_sha="f" * 40,
                    job="{}",
                    state="done",
                    assignment=ASSIGNMENT,
                    created_at=utcnow(),
                )
            )
        started = time.perf_counter()
        await record_fingerprints(engine, 10**6, ASSIGNMENT, "org/task-new", new)
        record = time.perf_counter() - started
    finally:
        await ledger.close()
    (small, t_small), (large, t_large) = figures[0], figures[-1]
    total = fp_seconds + t_large
    result.say(
        f"  RATIO match time {large} / {small} stored: {t_large / t_small:.2f} "
        f"(a pairwise scan: {large / small:.0f}); storing the new one's fingerprints: "
        f"{record * 1000:.0f} ms; one check under tracemalloc: {once * 1000:.0f} ms"
    )
    result.check(
        f"{label}: check one submission against {large}",
        f"{total * 1000:.0f} ms (fingerprint {fp_seconds * 1000:.0f} + match {t_large * 1000:.0f})",
        "< 1 s",
        total < 1.0,
    )
    result.check(
        f"{label}: memory of one check",
        f"tracemalloc peak {peak / 2**20:.1f} MiB; process peak RSS "
        f"{rss:.0f} MiB{'' if reset else ' (since start: VmHWM not resettable)'}",
        "< 200 MB",
        rss * 2**20 < 200e6,
    )
    result.check(
        f"{label}: growth of the match time, {small} -> {large} stored",
        f"{t_large / t_small:.2f}x",
        f"< {large / small:.0f}x (pairwise)",
        t_large / t_small < large / small,
    )


def _inputs() -> dict[str, tuple[str, frozenset[int] | None]]:
    return {
        f.path: (f.after, None if f.before is None else added_lines(f.before, f.after))
        for f in synthetic_change(LINES, seed=14)
    }


async def fresh_postgres() -> str | None:
    """An empty database of its own on the bench PostgreSQL, or None when it is not reachable."""
    try:
        conn = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    return f"{POSTGRES}/{DATABASE}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _main(result: Result) -> None:
    with tempfile.TemporaryDirectory(prefix="relo-sim-") as tmp:
        await one_database(result, "SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'ledger.db'}")
    url = await fresh_postgres()
    if url is None:
        result.say(f"PostgreSQL not reachable at {POSTGRES}: skipped")
        return
    await one_database(result, "PostgreSQL", url)


def run() -> Result:
    result = header("similarity", "check a new submission against 2,000 stored")
    asyncio.run(_main(result))
    return result
