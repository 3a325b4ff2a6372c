"""The real Redis and PostgreSQL servers of this machine, for the scale-out half of the suite.

Absent servers skip those tests with a reason; under CI (`CI=true`) they fail instead, since
CI's `.ci/run` starts them.
"""

from __future__ import annotations

import os

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc}); start it to run this test"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


async def fresh_redis() -> str:
    """An empty Redis database for one test."""
    try:
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            await client.flushdb()
        finally:
            await client.aclose()
    except (OSError, RedisError) as exc:
        unavailable(f"Redis at {REDIS_URL}", exc)
    return REDIS_URL


async def fresh_postgres() -> str:
    """An empty `public` schema in the test database for one test."""
    try:
        conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {POSTGRES_DSN}", exc)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return POSTGRES_DSN
