"""`python -m app review PATH --base REF`: the service's review pipeline on a local git repository,
with no GitHub: try a rubric on a sample submission, or demo the app on a fresh machine.

`--junit FILE` (repeatable) folds in JUnit reports run locally, as the grader workflow's would be:
the assignment's `tests` block decides which criterion they score and how."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

from app.cli import CLIError, Progress, Subcommands
from app.cli.check_config import config_root, problem_lines, read_config
from app.cli.formats import review_json, review_sarif
from app.cli.localgit import (
    GitError,
    changed_paths,
    commit_messages,
    file_entries,
    merge_base,
    read_files,
    repository_root,
    resolve,
)
from app.config import Settings, load_settings
from app.github.change import build_change
from app.render import summary_markdown
from app.review.assignment import (
    DEFAULT_ASSIGNMENT,
    Assignment,
    AssignmentConfigError,
    parse_config,
)
from app.review.engine import ReviewPlan, review_submission
from app.review.hidden_tests import (
    MAX_XML_BYTES,
    TestOutcome,
    TestReport,
    TestReportError,
    parse_junit,
)
from app.review.models import Review, Submission
from app.review.static import StaticReviewer
from app.review.tests_render import reviewer_tests_section


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "review",
        help="review a local git repository (no GitHub needed)",
        description=__doc__,
    )
    parser.add_argument("path", type=Path, help="the repository (or a folder inside it)")
    parser.add_argument(
        "--base", required=True, metavar="REF", help="the starter code: a branch, tag or SHA"
    )
    parser.add_argument(
        "--head", default="HEAD", metavar="REF", help="the submission (default: HEAD)"
    )
    parser.add_argument(
        "--assignment", type=Path, metavar="FILE", help="an assignment config file (YAML)"
    )
    parser.add_argument(
        "--assignment-id", metavar="ID", help="which assignment of the file, when it has several"
    )
    parser.add_argument(
        "--format", choices=("markdown", "json", "sarif"), default="markdown", help="the output"
    )
    parser.add_argument(
        "--llm", action="store_true", help="also ask the LLM (needs OPENAI_API_KEY or _BASE_URL)"
    )
    parser.add_argument(
        "--junit",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a JUnit XML report of the hidden tests (repeatable); needs an assignment with tests",
    )
    parser.set_defaults(run=run)


def load_assignment(file: Path | None, assignment_id: str | None) -> Assignment:
    """The chosen assignment of a config file, with its brief_file read; the default without."""
    if file is None:
        if assignment_id is not None:
            raise CLIError("--assignment-id needs --assignment FILE.")
        return DEFAULT_ASSIGNMENT
    try:
        config = parse_config(read_config(file), source=str(file))
    except AssignmentConfigError as exc:
        lines = problem_lines(file, exc)
        raise CLIError(f"{file} has {len(lines)} problem(s):\n" + "\n".join(lines)) from None
    ids = [a.id for a in config.assignments]
    if assignment_id is not None:
        chosen = next((a for a in config.assignments if a.id == assignment_id), None)
        if chosen is None:
            raise CLIError(
                f"{file} has no assignment {assignment_id!r} (it has: {', '.join(ids)})."
            )
    elif len(ids) == 1:
        chosen = config.assignments[0]
    else:
        raise CLIError(
            f"{file} defines {len(ids)} assignments ({', '.join(ids)}); "
            "choose one with --assignment-id."
        )
    if chosen.brief_file is None:
        return chosen
    root = config_root(file) or file.resolve().parent
    brief = (root / chosen.brief_file).resolve()
    if not brief.is_relative_to(root):
        raise CLIError(f"brief_file {chosen.brief_file!r} points outside {root}.")
    try:
        return chosen.with_brief(brief.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(
            f"brief_file {chosen.brief_file!r} of assignment {chosen.id!r} cannot be read "
            f"from {brief} ({getattr(exc, 'strerror', None) or exc})."
        ) from None


def load_junit(files: list[Path], assignment: Assignment) -> TestOutcome | None:
    """The local JUnit reports as the grader's results; None when none is given."""
    if not files:
        return None
    if assignment.tests is None:
        raise CLIError(
            f"--junit needs an assignment with a tests block (which criterion the tests score); "
            f"assignment {assignment.id!r} has none."
        )
    report = TestReport(())
    for file in files:
        try:
            with file.open("rb") as stream:
                data = stream.read(MAX_XML_BYTES + 1)
        except OSError as exc:
            raise CLIError(f"{file} cannot be read ({exc.strerror or exc}).") from None
        try:
            report = report.merged(parse_junit(data, source=str(file)))
        except TestReportError as exc:
            raise CLIError(f"{exc}.") from None
    return TestOutcome.of(report)


async def review_repository(
    path: Path,
    base_ref: str,
    head_ref: str,
    assignment: Assignment,
    settings: Settings,
    *,
    use_llm: bool,
    progress: Progress,
    tests: TestOutcome | None = None,
) -> tuple[Review, str]:
    """Review `base...head` of the repository at `path`; returns the review and the base SHA."""
    try:
        root = await repository_root(path)
        base_sha = await resolve(root, base_ref)
        head_sha = await resolve(root, head_ref)
        base = await merge_base(root, base_sha, head_sha)
        progress.step(f"Reading the change {base[:8]}…{head_sha[:8]}")
        entries = await file_entries(root, base, head_sha)
        change = build_change(base, head_sha, entries)
        progress.step(f"Reading {len(change.files)} changed file(s)")
        contents, too_large = await read_files(
            root, head_sha, changed_paths(entries), settings.max_file_bytes
        )
        messages = await commit_messages(root, base, head_sha)
    except GitError as exc:
        raise CLIError(str(exc)) from None
    submission = Submission(
        repo=root.name, change=change, contents=contents, commit_messages=messages
    )
    async with AsyncExitStack() as stack:
        llm, model = None, ""
        if use_llm:
            from app.compose import llm_factory, openai_client

            client = openai_client(settings)
            stack.push_async_callback(client.close)
            llm, model = llm_factory(settings, client)(assignment)
        plan = ReviewPlan(
            assignment=assignment,
            reviewers=(StaticReviewer(ruff_path=settings.ruff_path),),
            llm=llm,
            model=model,
            prices=dict(settings.llm_prices),
            fresh=True,
            tests=tests,
        )
        what = "static analysis and the LLM" if llm is not None else "static analysis"
        progress.step(f"Reviewing {len(change.files)} file(s) with {what}")
        review = await review_submission(submission, plan)
    if too_large:
        note = (
            f"{len(too_large)} file(s) over {settings.max_file_bytes} bytes were not analysed: "
            + ", ".join(too_large[:10])
            + "."
        )
        review = replace(review, notes=(*review.notes, note))
    return review, base


def render(review: Review, fmt: str, *, base_sha: str, assignment: Assignment) -> str:
    if fmt == "json":
        return json.dumps(review_json(review, base_sha=base_sha, assignment=assignment), indent=2)
    if fmt == "sarif":
        return json.dumps(review_sarif(review), indent=2)
    text = summary_markdown(review, show_score=True).rstrip("\n")
    tests = reviewer_tests_section(review.tests)
    return f"{text}\n\n{tests.rstrip()}" if tests else text


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.llm and not settings.llm_configured:
        raise CLIError("--llm needs OPENAI_API_KEY or OPENAI_BASE_URL (environment or .env).")
    if not args.path.is_dir():
        raise CLIError(f"{args.path} is not a directory.")
    assignment = load_assignment(args.assignment, args.assignment_id)
    tests = load_junit(args.junit, assignment)
    with Progress() as progress:
        review, base = asyncio.run(
            review_repository(
                args.path,
                args.base,
                args.head,
                assignment,
                settings,
                use_llm=args.llm,
                progress=progress,
                tests=tests,
            )
        )
    sys.stdout.write(render(review, args.format, base_sha=base, assignment=assignment) + "\n")
    return 0
