"""The real Redis and PostgreSQL servers of this machine, for the scale-out half of the suite.

Each test run gets a database of its own (dropped when the run ends) and each test an empty
schema and its own Redis queue name, so two runs on one machine never see each other's data.
Absent servers skip those tests with a reason; under CI (`CI=true`) they fail instead, since
CI's `.ci/run` starts them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
RUN_DATABASE = f"relo_test_{os.getpid()}"
_queues = itertools.count(1)
_created = False


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc}); start it to run this test"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def fresh_redis() -> tuple[str, str]:
    """The Redis URL and a queue name no other test or run uses."""
    try:
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            await client.ping()
        finally:
            await client.aclose()
    except (OSError, RedisError) as exc:
        unavailable(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL, f"relo-test:{os.getpid()}:{next(_queues)}"


def _with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _drop_run_database() -> None:
    conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{RUN_DATABASE}" WITH (FORCE)')
    finally:
        await conn.close()


def _drop_at_exit() -> None:
    # If the server went away first there is nothing left to clean.
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        asyncio.run(_drop_run_database())


async def fresh_postgres() -> str:
    """An empty `public` schema in this run's own database, for one test."""
    global _created
    try:
        if not _created:
            admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{RUN_DATABASE}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{RUN_DATABASE}"')
            finally:
                await admin.close()
            _created = True
            atexit.register(_drop_at_exit)
        dsn = _with_database(POSTGRES_DSN, RUN_DATABASE)
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_DSN}", exc)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return dsn
