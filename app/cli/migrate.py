"""`python -m app migrate`: bring the ledger's schema to the newest revision and exit, for
clusters that run migrations as their own step (a Job, a release phase) before the services
start. `serve` and `worker` still migrate at start; once this has run they find nothing to do."""

from __future__ import annotations

import argparse
import asyncio

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from app.cli import CLIError, Subcommands
from app.config import load_settings
from app.ledger import Ledger


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "migrate", help="apply the ledger's schema migrations and exit", description=__doc__
    )
    parser.set_defaults(run=run)


def _revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(ledger: Ledger) -> str | None:
    async with ledger.engine.connect() as conn:
        return await conn.run_sync(_revision)


async def migrate(url: str) -> tuple[str | None, str | None]:
    """The schema's revision before and after applying the migrations."""
    ledger = Ledger.from_url(url)
    try:
        before = await current_revision(ledger)
        await ledger.migrate()
        return before, await current_revision(ledger)
    finally:
        await ledger.close()


def describe(shown: str, before: str | None, after: str | None) -> str:
    if before == after:
        return f"The ledger at {shown} is already at revision {after}; nothing to do."
    start = "an empty database" if before is None else f"revision {before}"
    return f"Migrated the ledger at {shown} from {start} to revision {after}."


def run(args: argparse.Namespace) -> int:
    url = load_settings().database_url_async
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise CLIError("DATABASE_URL is not a database URL.") from None
    try:
        before, after = asyncio.run(migrate(url))
    except (SQLAlchemyError, OSError, ImportError) as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        raise CLIError(
            f"The ledger at {shown} cannot be migrated ({reason}); check DATABASE_URL and that "
            "the database server is running.",
            1,
        ) from None
    print(describe(shown, before, after))
    return 0
