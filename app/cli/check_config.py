"""`python -m app check-config [FILE]`: the settings, and an assignment config file, checked the way
the service would check them, every problem printed as `FILE:LINE:COL: message`."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from app.cli import CLIError, Subcommands
from app.cli.env_names import unknown_names
from app.config import ConfigError, load_settings
from app.review.assignment import AssignmentConfig, AssignmentConfigError, parse_config

ENV_FILE = Path(".env")
_ENV_KEY = re.compile(r"\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=")
_VARIABLE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b(?:HOST|PORT)\b")


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "check-config",
        help="check the settings and an assignment config file",
        description=__doc__,
    )
    parser.add_argument(
        "file",
        nargs="?",
        type=Path,
        help="an assignment config, e.g. .github/assignment-review.yml",
    )
    parser.set_defaults(run=run)


def _env_line(message: str, env_file: Path) -> str:
    """Where in .env the variable a settings error names is set, else "settings"."""
    try:
        lines = env_file.read_text(encoding="utf-8").split("\n")  # as git numbers lines
    except (OSError, UnicodeDecodeError):
        return "settings"
    keys: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        match = _ENV_KEY.match(line)
        if match is not None:
            keys[match.group(1)] = number  # the last assignment wins, as in python-dotenv
    for name in _VARIABLE.findall(message):
        if name in keys:
            return f"{env_file}:{keys[name]}:1"
    return "settings"


def settings_problems(env_file: Path = ENV_FILE) -> tuple[list[str], list[str]]:
    """(problems, notes) for the settings from the environment and .env."""
    try:
        settings = load_settings()
        settings.validate_for_service()
    except ConfigError as exc:
        return [f"{_env_line(str(exc), env_file)}: {exc}"], []
    notes = ["settings: OK"]
    if settings.setup_mode:
        notes.append(
            "settings: the GitHub App is not registered yet; open /setup on the running service "
            "or set GITHUB_APP_ID, GITHUB_PRIVATE_KEY_PATH and GITHUB_WEBHOOK_SECRET."
        )
    elif not settings.github_app_configured:
        notes.append(
            "settings: warning: GITHUB_WEBHOOK_SECRET is set but GITHUB_APP_ID and a private key "
            "are not; deliveries will be recorded but no review can run."
        )
    if not settings.llm_configured:
        notes.append("settings: no LLM configured (OPENAI_*); reviews use static analysis only.")
    return [], notes


def config_root(file: Path) -> Path | None:
    """The root of the org's `.github` repository when FILE sits at `.github/…` inside it."""
    resolved = file.resolve()
    return resolved.parent.parent if resolved.parent.name == ".github" else None


def read_config(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{file}: is not UTF-8 text.") from None
    except OSError as exc:
        raise CLIError(f"{file}: cannot be read ({exc.strerror or exc}).") from None


def problem_lines(file: Path, error: AssignmentConfigError) -> list[str]:
    lines = [
        f"{file}:{p.line}:{p.column}: {p.text}" if p.line is not None else f"{file}: {p.text}"
        for p in error.problems
    ]
    return lines or [f"{file}: {error}"]


def _brief_problems(file: Path, text: str, config: AssignmentConfig) -> list[str]:
    root = config_root(file)
    if root is None:
        return []
    problems = []
    lines = text.split("\n")  # as git and GitHub number lines
    for assignment in config.assignments:
        name = assignment.brief_file
        if name is None:
            continue
        target = (root / name).resolve()
        if target.is_relative_to(root) and target.is_file():
            continue
        number = next(
            (n for n, line in enumerate(lines, 1) if "brief_file" in line and name in line), None
        )
        where = f"{file}:{number}:1" if number is not None else str(file)
        problems.append(
            f"{where}: assignments {assignment.id!r} brief_file {name!r} is not a file in {root}"
        )
    return problems


def config_problems(file: Path) -> tuple[list[str], list[str]]:
    text = read_config(file)
    try:
        config = parse_config(text, source=str(file))
    except AssignmentConfigError as exc:
        return problem_lines(file, exc), []
    problems = _brief_problems(file, text, config)
    ids = ", ".join(a.id for a in config.assignments)
    count = len(config.assignments)
    notes = [f"{file}: OK ({count} assignment{'s' if count != 1 else ''}: {ids})"]
    if not config.assignments:
        notes.append(
            f"{file}: warning: no assignments, so no repository will be reviewed (without this "
            "file every repository gets a default review)"
        )
    for assignment in config.assignments:
        feedback = assignment.feedback
        if not (feedback.check_run or feedback.pr_comment or feedback.inline_comments) and not (
            assignment.reviewer_repo
        ):
            notes.append(
                f"{file}: warning: assignment {assignment.id!r} sends its results nowhere "
                "(no check run, PR comment, inline comments or reviewer_repo)"
            )
    return problems, notes


def env_warnings(env_file: Path = ENV_FILE) -> list[str]:
    try:
        text: str | None = env_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None  # settings_problems reports an unreadable .env
    return unknown_names(text, env_file, os.environ)


def run(args: argparse.Namespace) -> int:
    problems, notes = settings_problems()
    notes = [*env_warnings(), *notes]
    if args.file is not None:
        found, more = config_problems(args.file)
        problems += found
        notes += more
    for line in [*problems, *notes]:
        print(line)
    return 1 if problems else 0
