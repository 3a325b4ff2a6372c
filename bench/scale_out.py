"""5. Scale-out: 100 reviews with an LLM that takes 1 s per request, run by one and then by two
`python -m app worker` processes on Redis (PostgreSQL ledger), same per-worker concurrency.

The fake GitHub and the slow fake LLM are served over TCP from this process; the web side (this
process, the real app in-process) accepts the 100 signed deliveries once the workers are ready.
Each configuration gets a fresh database, a flushed Redis database and its own 100 repositories,
so nothing (LLM results, comments) carries over from the other. Time: from the first delivery
until the ledger has all 100 reviews finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx2
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from bench.common import PYTHON, ROOT, SECRET, Result, header, keypair, make_settings, quick
from bench.harness import fake_github, make_repos, open_pull, service
from tests.fakes.github import FakeGitHub
from tests.fakes.github_http import serve_in_thread
from tests.fakes.llm import FakeLLM, good

REVIEWS = 100
CONCURRENCY = 4
LLM_SECONDS = 1.0
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "relo_bench"
QUEUE_NAME = "relo-bench:reviews"


class Slow:
    """The fake LLM's app behind a fixed delay per request (a model that takes LLM_SECONDS)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


async def fresh_database() -> str:
    """An empty `relo_bench` PostgreSQL database (created on first use)."""
    conn = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(f"{POSTGRES}/{DATABASE}", timeout=5)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return f"{POSTGRES}/{DATABASE}"


async def fresh_redis() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment minus every setting, plus this run's settings."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update(
        GITHUB_APP_ID=settings.github_app_id,
        GITHUB_PRIVATE_KEY=keypair()[0],
        GITHUB_WEBHOOK_SECRET=SECRET,
        GITHUB_API_URL=settings.github_api_url,
        DATABASE_URL=settings.database_url,
        QUEUE_URL=settings.queue_url or "",
        QUEUE_NAME=settings.queue_name,
        OPENAI_BASE_URL=settings.openai_base_url or "",
        OPENAI_API_KEY="test",
        WORKER_CONCURRENCY=str(CONCURRENCY),
        LOG_LEVEL="INFO",
        SHUTDOWN_GRACE_SECONDS="5",
        PYTHONPATH=str(ROOT),
    )
    return env


@contextlib.contextmanager
def workers(count: int, settings: Settings, root: Path) -> Iterator[list[Path]]:
    """`count` worker processes, started outside the repository (no .env), stopped with
    SIGTERM."""
    logs = [root / f"worker-{count}-{i}.log" for i in range(count)]
    procs = []
    for log in logs:
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [PYTHON, "-m", "app", "worker"],
                    cwd=root,
                    env=worker_env(settings),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        deadline = time.monotonic() + 60
        while not all("worker started" in log.read_text(errors="replace") for log in logs):
            dead = [log for log, p in zip(logs, procs, strict=True) if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                text = (dead or logs)[0].read_text(errors="replace")[-3000:]
                raise RuntimeError(f"a worker did not start:\n{text}")
            time.sleep(0.05)
        yield logs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def one_configuration(
    count: int, fake: FakeGitHub, github_url: str, llm_url: str, root: Path, reviews: int
) -> tuple[float, dict[str, int]]:
    names = [f"scale{count}/task-{i:03d}" for i in range(reviews)]
    repos = make_repos(root, fake, names, installation_id=count)
    payloads = [
        open_pull(fake, git, name, 1, {"solution/a.py": f"VALUE = {i}\n"}, installation_id=count)
        for i, (git, name) in enumerate(zip(repos, names, strict=True))
    ]
    await fresh_redis()
    settings = make_settings(
        await fresh_database(),
        github_api_url=github_url,
        queue_url=REDIS_URL,
        queue_name=QUEUE_NAME,
        openai_base_url=llm_url,
        openai_api_key="test",
        worker_concurrency=CONCURRENCY,
    )
    async with httpx2.AsyncClient() as http, service(settings, http) as web:
        with workers(count, settings, root):
            started = time.monotonic()
            for payload in payloads:
                await web.deliver("pull_request", payload)
            states: dict[str, int] = {}
            deadline = started + 180
            while time.monotonic() < deadline:
                states = await web.services.ledger.review_states()
                if states.get("done", 0) + states.get("failed", 0) >= reviews:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - started
    return elapsed, states


async def _run(root: Path, result: Result, reviews: int) -> None:
    fake = fake_github()
    llm = FakeLLM()
    llm.script(*([good()] * (reviews * 3)))
    with fake.serve() as github_url, serve_in_thread(Slow(llm.app, LLM_SECONDS)) as llm_base:
        llm_url = f"{llm_base}/v1"
        times: dict[int, float] = {}
        for count in (1, 2):
            elapsed, states = await one_configuration(
                count, fake, github_url, llm_url, root, reviews
            )
            times[count] = elapsed
            result.say(
                f"{count} worker process(es) x {CONCURRENCY} concurrent reviews: "
                f"{reviews} reviews in {elapsed:.1f} s ({reviews / elapsed:.2f} reviews/s), "
                f"ledger states {states}"
            )
            finished = states.get("done", 0)
            if finished != reviews:
                result.check(f"{count} worker(s): reviews done", str(finished), str(reviews), False)
    floor = -(-reviews // CONCURRENCY) * LLM_SECONDS
    result.say(
        f"floor for one worker: {reviews}/{CONCURRENCY} rounds of {LLM_SECONDS:g} s = "
        f"{floor:.0f} s; for two: {floor / 2:.1f} s; LLM requests (both runs): {len(llm.requests)}"
    )
    ratio = times[2] / times[1]
    result.check("RATIO two workers / one worker", f"{ratio:.2f}", "<= 0.55", ratio <= 0.55)
    if fake.violations:
        result.check("fake GitHub contract", f"{len(fake.violations)} violations", "0", False)


def available() -> str | None:
    async def probe() -> None:
        await fresh_redis()
        conn = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, RedisError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def run() -> Result:
    result = header("scaleout", "100 reviews, LLM 1 s each: two arq workers vs one")
    problem = available()
    if problem is not None:
        result.check(
            "Redis and PostgreSQL on 127.0.0.1", problem, "reachable (start them first)", False
        )
        return result
    reviews = 40 if quick() else REVIEWS
    with tempfile.TemporaryDirectory(prefix="relo-bench-") as tmp:
        asyncio.run(_run(Path(tmp), result, reviews))
    return result


if __name__ == "__main__":
    run()
