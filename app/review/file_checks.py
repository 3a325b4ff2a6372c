"""Language-agnostic file checks: committed secrets, `.env` files, very large files, merge-conflict
markers, and dependencies or build output.

They apply to a submission in any language, need no tool beyond this code, and are deterministic,
so every review gets them. Each kind of build output is one finding per folder, not per file, so a
committed `node_modules/` does not drown the review.

They are CPU work (about 0.5 s per MiB of text), so reviewers run them in a worker thread; a large
text is scanned for secrets in windows, since one regular-expression scan holds the GIL, and the
event loop with it, until it returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from app.review.models import Finding, Severity, Submission
from app.review.secret_notice import placeholder_findings
from app.review.secrets import SecretHit, find_secrets
from app.review.textfile import is_binary

__all__ = ["HUGE_FILE_BYTES", "build_output", "file_checks"]

HUGE_FILE_BYTES = 500 * 1024
_ENV_TEMPLATES = frozenset({".env.example", ".env.sample", ".env.default", ".env.template"})
_BUILD_DIRS = frozenset({"node_modules", "__pycache__", "dist", "build", "target", ".venv", "venv"})
_BUILD_SUFFIXES = (".pyc", ".class", ".o")
_BUILD_NAMES = frozenset({".DS_Store"})
_CONFLICT_OPEN = re.compile(r"<{7}(?: |$)")
_CONFLICT_CLOSE = re.compile(r">{7}(?: |$)")
#: Secrets are looked for in windows of this many characters of whole lines...
SCAN_WINDOW_CHARS = 128 * 1024
#: ...each scanned with this much context on both sides, so a secret across a window's edge is
#: seen whole (a PEM private key is at most about 16 KB).
SCAN_MARGIN_CHARS = 20 * 1024


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


_SECRET_LABELS = {
    "private-key": "private key",
    "github-token": "GitHub token",
    "openai-key": "OpenAI API key",
    "url-password": "password in a connection URL",
    "anthropic-key": "Anthropic API key",
    "aws-access-key": "AWS access key",
    "slack-token": "Slack token",
    "stripe-key": "Stripe live key",
    "google-api-key": "Google API key",
    "jwt": "JSON Web Token",
    "assigned-secret": "hard-coded password or secret",
}


def build_output(path: str) -> str | None:
    """The group `path` belongs to when it is dependencies or build output, else None: the folder
    that should not be committed ("web/node_modules/"), or a file pattern within the top folder
    ("*.pyc files in src/"), so that one finding covers the whole group."""
    parts = PurePosixPath(path).parts
    for index, part in enumerate(parts[:-1]):
        if part in _BUILD_DIRS:
            return "/".join(parts[: index + 1]) + "/"
    name = parts[-1] if parts else path
    pattern = (
        name
        if name in _BUILD_NAMES
        else next((f"*{suffix}" for suffix in _BUILD_SUFFIXES if name.endswith(suffix)), None)
    )
    if pattern is None:
        return None
    where = f"{parts[0]}/" if len(parts) > 1 else "the top level"
    return f"{pattern} files in {where}"


def _is_env_file(path: str) -> bool:
    name = PurePosixPath(path).name.casefold()
    return name == ".env" or (name.startswith(".env.") and name not in _ENV_TEMPLATES)


def scan_secrets(text: str) -> Iterator[SecretHit]:
    """`find_secrets(text)`, with each regular-expression scan bounded to a window.

    Windows end at a line end where one is near; a hit is taken from the window its start falls
    in, in order and without overlaps, with its line and span in `text`. The margins make the
    windows' own edges (a false line start, a token cut in two) fall outside the part whose hits
    are taken.
    """
    size = len(text)
    if size <= SCAN_WINDOW_CHARS + 2 * SCAN_MARGIN_CHARS:
        yield from find_secrets(text)
        return
    covered = start = low = lines_before_low = 0
    while start < size:
        end = min(start + SCAN_WINDOW_CHARS, size)
        if end < size and (newline := text.rfind("\n", start, end)) >= 0:
            end = newline + 1
        new_low = max(start - SCAN_MARGIN_CHARS, 0)
        lines_before_low += text.count("\n", low, new_low)
        low = new_low
        for hit in find_secrets(text[low : min(end + SCAN_MARGIN_CHARS, size)]):
            first, last = hit.span[0] + low, hit.span[1] + low
            if start <= first < end and first >= covered:
                covered = last
                yield SecretHit(lines_before_low + hit.line, hit.kind, (first, last))
        start = end


def _conflict_markers(text: str) -> Iterator[int]:
    """Line numbers of merge-conflict markers; `=======` and `|||||||` count only inside a
    conflict, since they are also ordinary underlines in Markdown and reStructuredText."""
    inside = False
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if _CONFLICT_OPEN.match(line):
            inside = True
            yield number
        elif _CONFLICT_CLOSE.match(line):
            inside = False
            yield number
        elif inside and (line == "=======" or line == "|||||||" or line.startswith("||||||| ")):
            yield number


def _content_findings(path: str, content: bytes, huge_file_bytes: int) -> Iterator[Finding]:
    if len(content) > huge_file_bytes:
        yield Finding(
            path=path,
            start_line=1,
            end_line=1,
            severity=Severity.WARNING,
            rule="relo/huge-file",
            message=(
                f"This file is {len(content) // 1024} KB (over {huge_file_bytes // 1024} KB). "
                "Large generated or data files make a submission hard to review; keep them "
                "out of the repository or explain why they are needed."
            ),
            title="Very large file",
        )
    if is_binary(content):  # binary by git's rule: no text checks (and no text diff)
        return
    text = content.decode("utf-8", errors="replace")
    for hit in scan_secrets(text):
        end_line = hit.line + text.count("\n", hit.span[0], hit.span[1])
        yield Finding(
            path=path,
            start_line=hit.line,
            end_line=end_line,
            severity=Severity.ERROR,
            rule="relo/secret",
            message=(
                f"This looks like {_article(_SECRET_LABELS.get(hit.kind, 'secret'))} committed to "
                "the repository. Revoke it, remove it from the history, and load it from the "
                "environment or a secret store instead."
            ),
            title="Committed secret",
        )
    yield from placeholder_findings(path, text)
    for line in _conflict_markers(text):
        yield Finding(
            path=path,
            start_line=line,
            end_line=line,
            severity=Severity.ERROR,
            rule="relo/conflict-marker",
            message="A merge-conflict marker was committed; resolve the conflict and remove it.",
            title="Merge-conflict marker",
        )


def file_checks(
    submission: Submission, *, huge_file_bytes: int = HUGE_FILE_BYTES
) -> tuple[Finding, ...]:
    """Language-agnostic findings over the changed files that still exist: committed secrets,
    `.env` files, huge files, conflict markers, and dependencies or build output.

    Content checks skip files without content and files inside build output (already reported
    once per folder, and full of third-party text).
    """
    findings: list[Finding] = []
    build_groups: dict[str, list[str]] = {}
    for changed in submission.change.files:
        if changed.status == "removed":
            continue
        path = changed.path
        group = build_output(path)
        if group is not None:
            build_groups.setdefault(group, []).append(path)
            continue
        if _is_env_file(path):
            findings.append(
                Finding(
                    path=path,
                    start_line=1,
                    end_line=1,
                    severity=Severity.ERROR,
                    rule="relo/env-file",
                    message=(
                        "An environment file is committed; these usually hold credentials. "
                        "Remove it, add it to .gitignore and commit a .env.example instead."
                    ),
                    title="Committed .env file",
                )
            )
        content = submission.contents.get(path)
        if content is not None:
            findings.extend(_content_findings(path, content, huge_file_bytes))
    for group, paths in build_groups.items():
        paths.sort()
        count = f"{len(paths)} files" if len(paths) > 1 else "1 file"
        findings.append(
            Finding(
                path=paths[0],
                start_line=1,
                end_line=1,
                severity=Severity.WARNING,
                rule="relo/build-output",
                message=(
                    f"{count} under {group} are dependencies or build output; commit the "
                    "sources only and list the folder in .gitignore."
                    if group.endswith("/")
                    else f"{count}: {group} are build output or system files; commit the "
                    "sources only and list these in .gitignore."
                ),
                title="Committed dependencies or build output",
            )
        )
    return tuple(findings)
