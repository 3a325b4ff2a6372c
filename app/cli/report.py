"""`python -m app report --assignment ID --format csv|json`: one row per submission (repository and
head commit) from the ledger, its latest finished review: author, when GitHub delivered it,
late, score per rubric criterion, total, injection flags and LLM cost."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from app.cli import CLIError, Progress, Subcommands
from app.config import load_settings
from app.ledger import Ledger, reviews

FIXED = ("repository", "author", "head_sha", "received_at", "late")
TOTALS = ("total", "points", "flags", "cost_usd")


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "report", help="export one assignment's scores from the ledger", description=__doc__
    )
    parser.add_argument(
        "--assignment", required=True, metavar="ID", help="the assignment id from the config"
    )
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument(
        "--output", type=Path, metavar="FILE", help="write here instead of standard output"
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Submission:
    repository: str
    author: str | None
    head_sha: str
    received_at: str
    late: bool
    scores: dict[str, float | None]
    total: float | None
    points: int | None
    flags: int
    cost_usd: float
    tests: dict[str, Any] | None = None  # the hidden tests' full outcome (every failure)
    similar: list[dict[str, Any]] | None = None  # closest other submissions, top first
    history: dict[str, Any] | None = None  # commit-history signals


def _json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _similar_cell(similar: list[dict[str, Any]] | None) -> str:
    if not similar:
        return ""
    top = similar[0]
    return f"{top['repo']} ({top['share']:.0%})"


def _history_cell(history: dict[str, Any] | None) -> str:
    signals = (history or {}).get("signals") or []
    return " ".join(sorted({str(s.get("kind")) for s in signals}))


def _tests(text: str | None) -> dict[str, Any] | None:
    data = json.loads(text) if text else None
    return data if isinstance(data, dict) and not data.get("pending") else None


def _tests_cell(tests: dict[str, Any] | None) -> str:
    """`7/10 passed`, or why there are no results; empty without hidden tests."""
    if tests is None:
        return ""
    counts = tests.get("counts")
    if isinstance(counts, dict):
        return f"{counts.get('passed', 0)}/{counts.get('total', 0)} passed"
    return f"no results: {tests.get('missing')}"


def _received(job: dict[str, Any], created_at: datetime | None) -> str:
    value = job.get("received_at")
    if isinstance(value, str) and value:
        return value
    return created_at.isoformat() if created_at is not None else ""


def _submission(row: Any) -> Submission:
    job = json.loads(row.job) if row.job else {}
    scores = json.loads(row.scores) if row.scores else {}
    return Submission(
        repository=str(row.repo),
        author=job.get("sender"),
        head_sha=str(row.head_sha),
        received_at=_received(job, row.created_at),
        late=bool(row.late),
        scores={str(k): (float(v) if v is not None else None) for k, v in scores.items()},
        total=float(row.score) if row.score is not None else None,
        points=int(row.points) if row.points is not None else None,
        flags=int(row.flags or 0),
        cost_usd=float(row.cost_usd or 0.0),
        tests=_tests(row.tests_result),
        similar=_json(row.similarity),
        history=_json(row.history),
    )


async def submissions(ledger: Ledger, assignment: str) -> list[Submission]:
    """The latest finished review of each (repository, head) reviewed for `assignment`."""
    c = reviews.c
    columns = (c.repo, c.head_sha, c.job, c.created_at, c.late, c.score, c.points, c.scores)
    query = (
        sa.select(*columns, c.flags, c.cost_usd, c.tests_result, c.similarity, c.history)
        .where(reviews.c.assignment == assignment, reviews.c.state == "done")
        .order_by(reviews.c.finished_at, reviews.c.id)
    )
    async with ledger.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        if not rows:
            known = (
                await conn.execute(
                    sa.select(reviews.c.assignment)
                    .where(reviews.c.assignment.is_not(None))
                    .distinct()
                    .order_by(reviews.c.assignment)
                )
            ).scalars()
            ids = [str(a) for a in known]
            if assignment not in ids:
                have = f"it has: {', '.join(ids)}" if ids else "it has no reviews yet"
                raise CLIError(f"The ledger has no reviews of assignment {assignment!r} ({have}).")
    latest: dict[tuple[str, str], Any] = {}
    for row in rows:
        latest[(row.repo, row.head_sha)] = row
    found = [_submission(row) for row in latest.values()]
    return sorted(found, key=lambda s: (s.repository.lower(), s.received_at))


def criteria_of(found: list[Submission]) -> list[str]:
    seen: dict[str, None] = {}
    for submission in found:
        seen.update(dict.fromkeys(submission.scores))
    return list(seen)


def _cell(value: str) -> str:
    """Text a spreadsheet would run as a formula is kept as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def to_csv(found: list[Submission]) -> str:
    criteria = criteria_of(found)
    columns = [*FIXED, *(c if c not in FIXED + TOTALS else f"criterion:{c}" for c in criteria)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    with_tests = any(s.tests is not None for s in found)
    integrity = any(s.similar or s.history for s in found)
    extra = (["tests"] if with_tests else []) + (["top_match", "history"] if integrity else [])
    writer.writerow([*columns, *TOTALS, *extra])
    for s in found:
        writer.writerow(
            [
                _cell(s.repository),
                _cell(s.author or ""),
                s.head_sha,
                s.received_at,
                "true" if s.late else "false",
                *(_number(s.scores.get(c)) for c in criteria),
                _number(s.total),
                "" if s.points is None else str(s.points),
                str(s.flags),
                f"{s.cost_usd:.6f}",
                *([_cell(_tests_cell(s.tests))] if with_tests else []),
                *(
                    [_cell(_similar_cell(s.similar)), _history_cell(s.history)]
                    if integrity
                    else []
                ),
            ]
        )
    return out.getvalue()


def to_json(assignment: str, found: list[Submission]) -> str:
    data = {
        "assignment": assignment,
        "criteria": criteria_of(found),
        "submissions": [
            {
                "repository": s.repository,
                "author": s.author,
                "head_sha": s.head_sha,
                "received_at": s.received_at,
                "late": s.late,
                "scores": s.scores,
                "total": s.total,
                "points": s.points,
                "flags": s.flags,
                "cost_usd": round(s.cost_usd, 6),
                "tests": s.tests,
                "similar": s.similar or [],
                "history": s.history,
            }
            for s in found
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def check_ledger_url(url: str) -> str:
    """The URL as safe to show (no password); a SQLite file that does not exist is an error."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CLIError("DATABASE_URL is not a database URL.") from None
    database = parsed.database or ""
    sqlite_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if sqlite_file and not Path(database).is_file():
        raise CLIError(f"There is no ledger at {database} (DATABASE_URL); nothing to report.")
    return parsed.render_as_string(hide_password=True)


async def read_ledger(url: str, assignment: str, *, shown: str) -> list[Submission]:
    ledger = Ledger.from_url(url)
    try:
        return await submissions(ledger, assignment)
    except (DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CLIError(f"The ledger at {shown} cannot be read ({reason}).", 1) from None
    finally:
        await ledger.close()


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    with Progress() as progress:
        progress.step(f"Reading the ledger for assignment {args.assignment}")
        url = settings.database_url_async
        found = asyncio.run(read_ledger(url, args.assignment, shown=check_ledger_url(url)))
    text = to_csv(found) if args.format == "csv" else to_json(args.assignment, found)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            raise CLIError(f"{args.output}: cannot be written ({exc.strerror or exc}).") from None
        print(f"{len(found)} submission(s) written to {args.output}", file=sys.stderr)
    return 0
