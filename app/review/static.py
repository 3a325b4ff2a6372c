"""The static reviewer: ruff on the changed Python files, plus the language-agnostic file checks
of `file_checks`.

It is deterministic and needs no network, so every review gets it even without an LLM. The
submission is adversarial (see the trust model): ruff runs with `--isolated` so no config file in
the submission can change the rules, with `--ignore-noqa` so `# noqa` comments cannot hide
findings, through exec (never a shell) in a private temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from app.review import json_array
from app.review.file_checks import HUGE_FILE_BYTES, build_output, file_checks
from app.review.models import Finding, ReviewerResult, ReviewError, Severity, Submission

__all__ = [
    "HUGE_FILE_BYTES",
    "RUFF_IGNORE",
    "RUFF_SELECT",
    "StaticReviewer",
    "file_checks",
    "ruff_findings",
]

# Rules worth telling a candidate about: real bugs (F, B), security (S), idioms and simplifications
# (UP, SIM, C4, PIE, RET), blind excepts (BLE), blocking calls in async code (ASYNC), and the
# pycodestyle errors and warnings that are not formatting taste (E, W).
RUFF_SELECT = ("E", "W", "F", "B", "UP", "SIM", "C4", "PIE", "RET", "S", "BLE", "ASYNC")
# Noise for assignments: line length is a formatter's business; tests use assert; games and
# simulations use `random` legitimately; S603/S607 fire on every subprocess call (S602 stays).
# S105-S107 guess passwords from variable names ("password_field = 'password'"); the secret
# checks in file_checks.py judge the value itself, so they would only add false alarms.
RUFF_IGNORE = ("E501", "S101", "S105", "S106", "S107", "S311", "S603", "S607")
_PYTHON_SUFFIXES = (".py", ".pyi")
_SYNTAX_ERROR_RULE = "invalid-syntax"
_MAX_STDERR = 300


def _default_ruff() -> str | None:
    """The ruff installed with this interpreter (the app's own dependency), else one on PATH."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("ruff")


class StaticReviewer:
    """Reviews a submission with ruff and deterministic file checks; raises ReviewError when ruff
    is missing, times out or crashes, since a silent partial review would look like a clean one."""

    name = "static"

    def __init__(
        self,
        ruff_path: str | None = None,
        timeout: float = 60,
        *,
        huge_file_bytes: int = HUGE_FILE_BYTES,
    ) -> None:
        self._ruff_path = ruff_path if ruff_path is not None else _default_ruff()
        self._timeout = timeout
        self._huge_file_bytes = huge_file_bytes

    async def review(self, submission: Submission) -> ReviewerResult:
        # CPU work over every changed file's content: off the event loop.
        findings = list(
            await asyncio.to_thread(
                file_checks, submission, huge_file_bytes=self._huge_file_bytes
            )
        )
        notes: list[str] = []
        python: dict[str, bytes] = {}
        missing = 0
        for changed in submission.change.files:
            if changed.status == "removed" or not changed.path.endswith(_PYTHON_SUFFIXES):
                continue
            if build_output(changed.path) is not None:
                continue  # reported once per folder by file_checks; linting it would flood
            content = submission.contents.get(changed.path)
            if content is None:
                missing += 1
            else:
                python[changed.path] = content
        if missing:
            notes.append(f"{missing} Python file(s) had no content available and were not linted.")
        if python:
            ruff_found, ruff_notes = await self._ruff(python)
            findings.extend(ruff_found)
            notes.extend(ruff_notes)
        return ReviewerResult(findings=tuple(findings), notes=tuple(notes))

    async def _ruff(self, files: Mapping[str, bytes]) -> tuple[list[Finding], list[str]]:
        if self._ruff_path is None:
            raise ReviewError(
                "ruff is not installed on the review server, so Python files could not be checked."
            )
        root = await asyncio.to_thread(_make_workdir)
        try:
            written, skipped = await asyncio.to_thread(_materialise, root, files)
            notes = (
                [f"{skipped} Python file(s) with unusable paths were not linted."]
                if skipped
                else []
            )
            if not written:
                return [], notes
            output = await self._run_ruff(self._ruff_path, root)
            # Thousands of diagnostics take ~0.4 s to read: off the event loop too.
            found = await asyncio.to_thread(
                ruff_findings, output, root=root, written=written, contents=files
            )
            return found, notes
        finally:
            await asyncio.to_thread(shutil.rmtree, root, ignore_errors=True)

    async def _run_ruff(self, ruff: str, root: str) -> bytes:
        """Run ruff over `root` and return its JSON output; arguments go through exec, so file
        names are never parsed by a shell, and the environment is empty so the server's own
        RUFF_* variables and secrets do not reach it."""
        args = [
            "check",
            "--output-format", "json",
            "--no-cache",
            "--no-fix",
            "--isolated",
            "--ignore-noqa",
            "--select", ",".join(RUFF_SELECT),
            "--ignore", ",".join(RUFF_IGNORE),
            "--config", "exclude = []",
            "--config", "respect-gitignore = false",
            "--exit-zero",
            "--",
            ".",
        ]  # fmt: skip
        try:
            process = await asyncio.create_subprocess_exec(
                ruff,
                *args,
                cwd=root,
                env={},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as error:
            raise ReviewError(
                f"ruff could not be started ({error.strerror or error}), so Python files could "
                "not be checked."
            ) from error
        try:
            async with asyncio.timeout(self._timeout):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            raise ReviewError(
                f"ruff did not finish within {self._timeout:g} seconds, so Python files could "
                "not be checked."
            ) from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process.returncode != 0:
            detail = stderr.decode("utf-8", errors="replace").strip().splitlines()
            reason = detail[0][:_MAX_STDERR] if detail else "no error output"
            raise ReviewError(
                f"ruff failed with exit status {process.returncode} ({reason}), so Python files "
                "could not be checked."
            )
        return stdout


# --- ruff output ---------------------------------------------------------------------------------


def _make_workdir() -> str:
    """A fresh private directory (mode 0700); resolved, since ruff reports resolved paths."""
    return os.path.realpath(tempfile.mkdtemp(prefix="relo-ruff-"))


def _safe_relative(path: str) -> PurePosixPath | None:
    """`path` as a relative path that stays inside a directory, or None for hostile paths."""
    if not path or "\x00" in path:
        return None
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    return relative


def _materialise(root: str, files: Mapping[str, bytes]) -> tuple[dict[str, str], int]:
    """Write `files` under `root`; return {relative path as written: submission path} and how
    many could not be written (unsafe paths, file/folder clashes, over-long names)."""
    written: dict[str, str] = {}
    skipped = 0
    for path, content in files.items():
        relative = _safe_relative(path)
        if relative is None:
            skipped += 1
            continue
        target = Path(root).joinpath(*relative.parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as handle:  # "x": never follow or overwrite anything
                handle.write(content)
        except OSError:
            skipped += 1
            continue
        written[relative.as_posix()] = path
    return written, skipped


def _object(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ReviewError(f"ruff's output could not be read ({what} is not an object).")
    return {str(key): item for key, item in value.items()}


def _row(location: object, what: str) -> tuple[int, int]:
    fields = _object(location, what)
    row, column = fields.get("row"), fields.get("column")
    if not isinstance(row, int) or not isinstance(column, int):
        raise ReviewError(f"ruff's output could not be read ({what} has no row and column).")
    return row, column


def _severity(rule: str) -> Severity:
    """Syntax errors block everything; likely bugs (F) and security (S) matter; style is advice."""
    if rule == _SYNTAX_ERROR_RULE:
        return Severity.ERROR
    if re.fullmatch(r"[FS]\d+", rule):
        return Severity.WARNING
    return Severity.NOTICE


def _ruff_lines(content: bytes | None) -> list[str] | None:
    """The file's lines as ruff numbers them, or None when it cannot be read."""
    try:
        return None if content is None else re.split(r"\r\n|\r|\n", content.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def _suggestion(
    fix: object, lines_of: Callable[[], list[str] | None], line: int
) -> str | None:
    """The new text of `line` (empty: delete it) when ruff's fix is safe and confined to that line.

    Unsafe fixes may change behaviour, so they are left to the candidate's judgement. The file's
    lines are split once per file (`lines_of`), not once per fix: a 3 MB file with thousands of
    fixes would otherwise be split thousands of times.
    """
    if not isinstance(fix, dict) or fix.get("applicability") != "safe":
        return None
    raw_edits = fix.get("edits")
    if not isinstance(raw_edits, list) or not raw_edits:
        return None
    edits: list[tuple[int, int, int, int, str]] = []
    for raw in raw_edits:
        edit = _object(raw, "a fix edit")
        replacement = edit.get("content")
        if not isinstance(replacement, str):
            return None
        start_row, start_col = _row(edit.get("location"), "an edit location")
        end_row, end_col = _row(edit.get("end_location"), "an edit end location")
        edits.append((start_row, start_col, end_row, end_col, replacement))
    lines = lines_of()
    if lines is None or not 1 <= line <= len(lines):
        return None
    if len(edits) == 1 and edits[0][:4] == (line, 1, line + 1, 1):  # the whole line, newline too
        new = edits[0][4].removesuffix("\n")
    else:
        new = lines[line - 1]
        limit = len(new) + 1
        for start_row, start_col, end_row, end_col, replacement in sorted(edits, reverse=True):
            if start_row != line or end_row != line or not start_col <= end_col <= limit:
                return None
            new = new[: start_col - 1] + replacement + new[end_col - 1 :]
            limit = start_col  # edits applied right to left must not overlap
    return None if "\n" in new or "\r" in new else new


def ruff_findings(
    output: bytes, *, root: str, written: Mapping[str, str], contents: Mapping[str, bytes]
) -> list[Finding]:
    """Findings from ruff's JSON output; paths are mapped back to the submission's paths.

    Only the first syntax error of a file is kept. A suggestion (the new text of the line; empty
    means delete it) is given for safe one-line fixes.

    Raises ReviewError when the output is not what ruff's JSON format promises.
    """
    try:
        diagnostics = json_array.loads(output)  # element by element: see json_array
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ReviewError("ruff's output could not be read (it is not JSON).") from error
    if not isinstance(diagnostics, list):
        raise ReviewError("ruff's output could not be read (it is not a list).")
    findings: list[Finding] = []
    unparsable: set[str] = set()
    split: dict[str, list[str] | None] = {}

    def lines_of(path: str) -> list[str] | None:
        if path not in split:
            split[path] = _ruff_lines(contents.get(path))
        return split[path]

    for raw in diagnostics:
        item = _object(raw, "a diagnostic")
        filename, message = item.get("filename"), item.get("message")
        if not isinstance(filename, str) or not isinstance(message, str):
            raise ReviewError("ruff's output could not be read (a diagnostic has no file).")
        path = written.get(Path(os.path.relpath(filename, root)).as_posix())
        if path is None:
            continue  # not a file we wrote; nothing to anchor it to
        code, name = item.get("code"), item.get("name")
        is_syntax = code in (None, "E999", _SYNTAX_ERROR_RULE) or message.startswith("SyntaxError")
        rule = _SYNTAX_ERROR_RULE if is_syntax or not isinstance(code, str) else code
        start, _ = _row(item.get("location"), "a location")
        end, _ = _row(item.get("end_location"), "an end location")
        end = max(start, end)
        if is_syntax:
            if path in unparsable:
                continue  # later parse errors are mostly consequences of the first
            unparsable.add(path)
            title = "Syntax error"
            message = message.removeprefix("SyntaxError: ")
            message = f"Python cannot parse this file: {message}"
        else:
            title = f"ruff {rule}" + (f" ({name})" if isinstance(name, str) and name else "")
        suggestion = (
            _suggestion(item.get("fix"), functools.partial(lines_of, path), start)
            if start == end
            else None
        )
        findings.append(
            Finding(
                path=path,
                start_line=start,
                end_line=end,
                severity=_severity(rule),
                rule=rule,
                message=message,
                title=title,
                suggestion=suggestion,
            )
        )
    return findings
