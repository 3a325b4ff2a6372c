"""Before serving: open the ledger (applying migrations) and reach Redis, so that a wrong
DATABASE_URL or QUEUE_URL stops the start with one sentence instead of a traceback."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from app.config import ConfigError, Settings
from app.ledger import Ledger


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


async def preflight(settings: Settings) -> None:
    ledger = Ledger.from_url(settings.database_url_async)
    try:
        await ledger.migrate()
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise ConfigError(
            f"The ledger at DATABASE_URL cannot be opened ({_reason(exc)}); check the URL, "
            "that the server is running, and that the folder of a SQLite file exists."
        ) from exc
    finally:
        await ledger.close()
    if settings.queue_url:
        try:  # the `scale` extra's: the default install has no Redis client
            import redis.asyncio as aioredis
            from redis.exceptions import RedisError
        except ImportError as exc:
            raise ConfigError(
                "QUEUE_URL needs the Redis queue's drivers: pip install 'relo-review[scale]', "
                "or leave QUEUE_URL empty to run reviews in the web process."
            ) from exc
        client = aioredis.Redis.from_url(settings.queue_url)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            raise ConfigError(
                f"Redis at QUEUE_URL cannot be reached ({_reason(exc)}); start it, or leave "
                "QUEUE_URL empty to run reviews in the web process."
            ) from exc
        finally:
            await client.aclose()
