"""A local git repository read the way the service reads GitHub: the change between a base and a
head as GitHub-shaped file entries, the head's content of the changed files, commit messages.

Git runs as asyncio subprocesses (arguments through exec, never a shell), with options that
keep a repository's own config from running programs (external diff, textconv, fsmonitor).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.github.change import skip_reason

_CONFIG = (
    "-c", "core.quotepath=false",
    "-c", "core.fsmonitor=false",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false",
    "-c", "color.ui=false",
)  # fmt: skip
_DIFF = ("--no-color", "--no-ext-diff", "--no-textconv", "-M", "-U3", "--src-prefix=a/",
         "--dst-prefix=b/")  # fmt: skip
_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied",
           "T": "changed"}  # fmt: skip
MAX_COMMITS = 250  # as many as GitHub's compare lists
DIFF_CONCURRENCY = 8


class GitError(Exception):
    """Git failed or the repository cannot be read as asked; the message is one sentence."""


async def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        process = await asyncio.create_subprocess_exec(
            "git", "-C", str(repo), *_CONFIG, *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
    except OSError as exc:
        raise GitError(
            f"git could not be started ({exc.strerror or exc}); is it installed?"
        ) from exc
    out, err = await process.communicate(stdin)
    if process.returncode != 0:
        lines = err.decode("utf-8", errors="replace").strip().splitlines()
        reason = lines[0].removeprefix("fatal: ") if lines else f"exit status {process.returncode}"
        raise GitError(reason)
    return out


async def repository_root(path: Path) -> Path:
    try:
        out = await git(path, "rev-parse", "--show-toplevel")
    except GitError as exc:
        if "not a git repository" in str(exc):
            raise GitError(f"{path} is not in a git repository.") from None
        try:
            await git(path, "rev-parse", "--git-dir")  # a bare repository has no work tree
        except GitError:
            raise GitError(f"{path}: {exc}") from None
        return path
    return Path(out.decode().strip())


async def resolve(repo: Path, ref: str) -> str:
    """The commit SHA a ref names; refs that look like options are refused."""
    if not ref or ref.startswith("-"):
        raise GitError(f"{ref!r} is not a valid ref.")
    try:
        out = await git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError:
        raise GitError(f"{ref!r} is not a commit in {repo}.") from None
    return out.decode().strip()


async def merge_base(repo: Path, base: str, head: str) -> str:
    """Where head's history left base's: the same base GitHub's `base...head` compare uses."""
    try:
        out = await git(repo, "merge-base", base, head)
    except GitError:
        raise GitError(f"{base[:12]} and {head[:12]} share no history in {repo}.") from None
    return out.decode().strip()


@dataclass(frozen=True, slots=True)
class _Entry:
    status: str
    path: str
    previous: str | None = None


def _name_status(raw: bytes) -> list[_Entry]:
    fields = raw.decode("utf-8", errors="surrogateescape").split("\0")
    entries: list[_Entry] = []
    i = 0
    while i < len(fields) and fields[i]:
        letter = fields[i][0]
        if letter in ("R", "C"):
            entries.append(_Entry(_STATUS[letter], fields[i + 2], fields[i + 1]))
            i += 3
        else:
            entries.append(_Entry(_STATUS.get(letter, "modified"), fields[i + 1]))
            i += 2
    return entries


def patch_of(diff: str) -> tuple[str | None, int, int]:
    """GitHub's `patch` (hunks only, no file headers) and the added/deleted line counts.
    None for binary files. A type change shows as two sections: the last is the new file."""
    sections: list[list[str]] = []
    for line in diff.split("\n"):
        if line.startswith("diff --git ") or not sections:
            sections.append([])
        sections[-1].append(line)
    section = sections[-1] if sections else []
    start = next((i for i, line in enumerate(section) if line.startswith("@@")), None)
    header = section if start is None else section[:start]
    if any(line.startswith("Binary files ") or line == "GIT binary patch" for line in header):
        return None, 0, 0
    if start is None:
        return "", 0, 0
    hunks = section[start:]
    while hunks and hunks[-1] == "":
        hunks.pop()
    added = sum(1 for line in hunks if line.startswith("+"))
    deleted = sum(1 for line in hunks if line.startswith("-"))
    return "\n".join(hunks), added, deleted


async def _entry(repo: Path, base: str, head: str, entry: _Entry) -> dict[str, Any]:
    shaped: dict[str, Any] = {"filename": entry.path, "status": entry.status}
    if entry.previous is not None:
        shaped["previous_filename"] = entry.previous
    if skip_reason(entry.path, entry.status, "", 1) is not None:
        return {**shaped, "changes": 0}  # skipped whatever its diff: removed, vendored, ...
    paths = [entry.path] if entry.previous is None else [entry.previous, entry.path]
    raw = await git(repo, "diff", *_DIFF, base, head, "--", *paths)
    patch, added, deleted = patch_of(raw.decode("utf-8", errors="replace"))
    if entry.status == "renamed" and not patch:
        patch = None  # GitHub sends no patch for a rename without edits
    shaped.update(additions=added, deletions=deleted, changes=added + deleted)
    if patch is not None:
        shaped["patch"] = patch
    return shaped


async def file_entries(repo: Path, base: str, head: str) -> list[dict[str, Any]]:
    """The change as GitHub's compare API lists it: `{filename, status, patch, changes, …}`."""
    raw = await git(repo, "diff", "--name-status", "-z", "-M", "--no-ext-diff", base, head)
    entries = _name_status(raw)
    limit = asyncio.Semaphore(DIFF_CONCURRENCY)

    async def one(entry: _Entry) -> dict[str, Any]:
        async with limit:
            return await _entry(repo, base, head, entry)

    return list(await asyncio.gather(*(one(e) for e in entries)))


async def read_files(
    repo: Path, head: str, paths: Iterable[str], max_bytes: int
) -> tuple[dict[str, bytes], list[str]]:
    """The head's content of `paths` (blobs only) and the paths over `max_bytes`."""
    wanted = [p for p in paths if "\n" not in p]
    if not wanted:
        return {}, []
    request = "".join(f"{head}:{p}\n" for p in wanted).encode("utf-8", errors="surrogateescape")
    checked = (await git(repo, "cat-file", "--batch-check", stdin=request)).decode().splitlines()
    objects: list[tuple[str, str]] = []
    too_large: list[str] = []
    for path, line in zip(wanted, checked, strict=True):
        parts = line.split()
        if len(parts) != 3 or parts[1] != "blob":
            continue  # missing at head, a submodule, ...
        if int(parts[2]) > max_bytes:
            too_large.append(path)
        else:
            objects.append((path, parts[0]))
    if not objects:
        return {}, too_large
    blobs = await git(
        repo, "cat-file", "--batch", stdin="".join(f"{sha}\n" for _, sha in objects).encode()
    )
    files: dict[str, bytes] = {}
    offset = 0
    for path, _ in objects:
        end = blobs.index(b"\n", offset)
        size = int(blobs[offset:end].split()[2])
        files[path] = blobs[end + 1 : end + 1 + size]
        offset = end + 1 + size + 1
    return files, too_large


async def commit_messages(repo: Path, base: str, head: str) -> tuple[str, ...]:
    out = await git(
        repo, "log", "-z", "--format=%B", f"--max-count={MAX_COMMITS}", f"{base}..{head}"
    )
    return tuple(m.strip() for m in out.decode("utf-8", errors="replace").split("\0") if m.strip())


def changed_paths(entries: Sequence[dict[str, Any]]) -> list[str]:
    return [str(e["filename"]) for e in entries if e.get("status") != "removed"]
