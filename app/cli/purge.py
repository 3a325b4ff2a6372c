"""`python -m app purge [--days N] [--dry-run]`: apply the retention period to the ledger.

Reviews finished more than N days ago (RETENTION_DAYS unless --days says otherwise) lose what
they stored about the candidate's code: findings, fingerprints, history and similarity signals,
hidden-test results and the PR's title and body; stored LLM assessments older than that go too.
The review itself stays (state, conclusion, score, points, flags, cost), so `report` still
lists it. Run it daily, e.g. from cron; it is safe to run while the service runs.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from sqlalchemy.exc import DBAPIError

from app.cli import CLIError, Subcommands
from app.cli.report import check_ledger_url
from app.config import load_settings
from app.ledger import Ledger, utcnow
from app.retention import Purged, purge


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"should be a whole number of days, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError("should be at least 1 (RETENTION_DAYS=0 keeps forever)")
    return value


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "purge",
        help="delete review data older than the retention period (RETENTION_DAYS)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--days", type=_days, metavar="N", help="keep N days instead of RETENTION_DAYS"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )
    parser.set_defaults(run=run)


async def _purge(url: str, days: int, dry_run: bool, *, shown: str) -> Purged:
    ledger = Ledger.from_url(url)
    try:
        return await purge(ledger, before=utcnow() - timedelta(days=days), dry_run=dry_run)
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CLIError(f"The ledger at {shown} cannot be purged ({reason}).", 1) from None
    finally:
        await ledger.close()


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    days: int = args.days if args.days is not None else settings.retention_days
    if days == 0:
        print("RETENTION_DAYS is 0: review data is kept forever; nothing purged.")
        return 0
    url = settings.database_url_async
    counts = asyncio.run(_purge(url, days, args.dry_run, shown=check_ledger_url(url)))
    verb = "would be cleared" if args.dry_run else "cleared"
    print(
        f"Reviews finished more than {days} days ago: {counts.reviews} {verb} "
        f"({counts.findings} findings, {counts.fingerprints} fingerprints); "
        f"{counts.llm_results} stored LLM assessments {verb.replace('cleared', 'deleted')}. "
        "Scores and conclusions are kept."
    )
    return 0
