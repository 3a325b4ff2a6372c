"""The Redis client's errors, when the `scale` extra (arq, hence redis) is installed. The default
path (SQLite ledger, in-process queue) runs without it, and nothing on that path raises them."""

from __future__ import annotations

try:
    from redis.exceptions import RedisError
except ImportError:  # the default install: no Redis client, so no Redis errors to catch
    REDIS_ERRORS: tuple[type[Exception], ...] = ()
else:
    REDIS_ERRORS = (RedisError,)
