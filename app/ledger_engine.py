"""Opening the ledger's database: the engine, the schema migration, and which errors are a row's
fault rather than the database's.

Two start-up hazards live here. A web process and a worker started together on an empty
database would both create Alembic's tables and one of them fail, so migrations run under a lock
(an advisory lock on PostgreSQL, a write transaction on SQLite). aiosqlite stops the thread of a
connection that failed to open with a callback into the event loop that nobody waits for; when
the loop closes first (a start that fails with one sentence), the thread dies with a traceback,
so a failed open here waits for its thread to end.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Any 64-bit number shared by every process that migrates this database: "relo" in ASCII.
MIGRATION_LOCK = 0x72656C6F
SQLITE_BUSY_SECONDS = 30
# SQLSTATE classes of errors about the values sent, not the server: data exception (a value too
# long or out of range, a NUL in text) and integrity constraint violation (a duplicate key).
_ROW_SQLSTATES = ("22", "23")


def open_engine(url: str) -> AsyncEngine:
    """The engine for DATABASE_URL; SQLite connections are opened by `_open_sqlite`."""
    engine = create_async_engine(url)
    if engine.dialect.name != "sqlite":
        return engine
    # The connection arguments SQLAlchemy derives from the URL (file name, `uri`, ...), handed to
    # our opener instead of aiosqlite's; this first engine never connects.
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.setdefault("timeout", SQLITE_BUSY_SECONDS)
    return create_async_engine(url, async_creator=functools.partial(_open_sqlite, *args, **kwargs))


async def _open_sqlite(*args: Any, **kwargs: Any) -> aiosqlite.Connection:
    """aiosqlite's connect, but a failed open returns only once the connection's thread ended:
    aiosqlite leaves it to answer on this loop later, which raises in the thread (and prints a
    traceback after the start's one-sentence error) once the loop is closed."""
    connection = aiosqlite.connect(*args, **kwargs)
    thread = connection._thread
    thread.daemon = True  # as SQLAlchemy does: a connection nobody closed must not block exit
    try:
        return await connection
    except BaseException:
        if thread.ident is not None:  # started: it ends once it has run the queued stop
            await asyncio.to_thread(thread.join)
        raise


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision, one process at a time (idempotent)."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            await _journal_in_wal(conn)
            # Take the write lock before reading the schema version: a second process waits
            # here (up to the busy timeout) and then finds the schema already migrated.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            await conn.run_sync(_upgrade)
            await conn.commit()
        return
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Held until this transaction ends, DDL included (PostgreSQL's DDL is transactional).
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        await conn.run_sync(_upgrade)


async def _journal_in_wal(conn: AsyncConnection) -> None:
    """Switch the file to write-ahead logging (a no-op once it is; not possible inside a
    transaction). Two processes switching a new file at once would deadlock, so SQLite answers
    one of them "database is locked" at once instead of waiting: that one retries, within the
    busy timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SQLITE_BUSY_SECONDS
    delay = 0.01
    while True:
        try:
            await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            return
        except OperationalError as exc:
            busy = getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or loop.time() + delay > deadline:
                raise
        await conn.rollback()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


class _StartupChatter(logging.Filter):
    """Alembic logs which dialect it uses and how it treats DDL at INFO on every start; that is
    debug detail. Those records become DEBUG (kept only when debug logging is on); the
    migrations it runs stay at INFO."""

    CHATTER = ("Context impl ", "Will assume ")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith(self.CHATTER):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def _upgrade(connection: sa.Connection) -> None:
    alembic_log = logging.getLogger("alembic.runtime.migration")
    if not any(isinstance(f, _StartupChatter) for f in alembic_log.filters):
        alembic_log.addFilter(_StartupChatter())
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def refused_row(exc: BaseException) -> bool:
    """Whether the database refused the values of a statement (too long, out of range, a NUL, a
    duplicate key) rather than failed itself (connection lost, file locked): only then can the
    other rows of a batch still be stored."""
    if isinstance(exc, DataError | IntegrityError | OverflowError):
        return True  # OverflowError: sqlite3 binding an integer beyond 64 bits
    if isinstance(exc, DBAPIError):
        # asyncpg's errors reach SQLAlchemy untranslated; their SQLSTATE says whose fault it is.
        state = getattr(exc.orig, "sqlstate", None)
        return isinstance(state, str) and state[:2] in _ROW_SQLSTATES
    return False


def as_ledger_error(exc: Exception) -> SQLAlchemyError:
    """A refused row as the ledger error callers already handle (OverflowError is not one)."""
    if isinstance(exc, SQLAlchemyError):
        return exc
    return StatementError(str(exc), None, None, exc)
