"""The change under review: which files, which new-side lines, and what is skipped and why.

Pure: it turns GitHub's file entries (from `pulls/{n}/files` or `compare`) into a `Change`.
Diff parsing is unidiff's; GitHub's per-file `patch` lacks file headers, so we add them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from app.review.models import Change, ChangedFile, SkippedFile

LOCKFILES = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "Pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "Cargo.lock",
        "go.sum",
        "composer.lock",
        "Gemfile.lock",
        "mix.lock",
        "packages.lock.json",
        "gradle.lockfile",
    }
)
VENDORED_DIRS = frozenset({"vendor", "vendors", "third_party", "third-party", "node_modules"})
GENERATED_GLOBS = (
    "*.min.js",
    "*.min.css",
    "*.map",
    "*_pb2.py",
    "*_pb2_grpc.py",
    "*.pb.go",
    "*.generated.*",
    "*.g.dart",
)
BUILD_DIRS = frozenset({"dist", "build", "target", "out", "__pycache__", ".venv", "venv"})

# GitHub's file lists stop here; more files exist but the API will not list them.
PULL_FILES_LIMIT = 3000
COMPARE_FILES_LIMIT = 300


def changed_lines(patch: str) -> frozenset[int]:
    """New-side line numbers that the patch adds (the candidate's own lines)."""
    if not patch:
        return frozenset()
    text = patch if patch.endswith("\n") else patch + "\n"
    try:
        parsed = PatchSet("--- a/f\n+++ b/f\n" + text)
    except UnidiffParseError:
        return frozenset()
    lines: set[int] = set()
    for patched in parsed:
        for hunk in patched:
            for line in hunk:
                if line.is_added and line.target_line_no is not None:
                    lines.add(line.target_line_no)
    return frozenset(lines)


def skip_reason(path: str, status: str, patch: str | None, changes: int) -> str | None:
    """Why a file is left out of the review, or None to review it. Never silent: callers list it."""
    pure = PurePosixPath(path)
    if status == "removed":
        return "removed"
    if pure.name in LOCKFILES:
        return "lockfile"
    parts = set(pure.parts[:-1])
    if parts & VENDORED_DIRS:
        return "vendored dependency"
    if parts & BUILD_DIRS or any(fnmatchcase(pure.name, g) for g in GENERATED_GLOBS):
        return "generated or build output"
    if patch is None and changes == 0 and status in {"added", "modified", "renamed", "copied"}:
        # GitHub omits the patch for binary files (and for renames without edits).
        return "binary" if status != "renamed" else "renamed without changes"
    if patch is None:
        return "diff too large for GitHub to show"
    return None


def build_change(
    base_sha: str,
    head_sha: str,
    entries: Iterable[Mapping[str, Any]],
    *,
    limit: int | None = None,
) -> Change:
    """Turn GitHub file entries into a Change, sorting skipped files out with their reason."""
    files: list[ChangedFile] = []
    skipped: list[SkippedFile] = []
    count = 0
    for entry in entries:
        count += 1
        path = str(entry["filename"])
        status = str(entry.get("status", "modified"))
        patch = entry.get("patch")
        patch = patch if isinstance(patch, str) else None
        changes = int(entry.get("changes") or 0)
        reason = skip_reason(path, status, patch, changes)
        if reason is not None:
            skipped.append(SkippedFile(path, reason))
            continue
        files.append(
            ChangedFile(
                path=path,
                status=status,
                changed_lines=changed_lines(patch or ""),
                patch=patch,
                additions=int(entry.get("additions") or 0),
                deletions=int(entry.get("deletions") or 0),
                previous_path=entry.get("previous_filename"),
            )
        )
    if limit is not None and count >= limit:
        skipped.append(
            SkippedFile(
                f"(files beyond the first {limit})",
                f"GitHub lists at most {limit} files of a change; the rest were not reviewed",
            )
        )
    return Change(base_sha=base_sha, head_sha=head_sha, files=tuple(files), skipped=tuple(skipped))
