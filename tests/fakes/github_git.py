"""Read a GitRepo the way GitHub presents it: per-file diffs with hunks, commits, trees.

Results keyed by commit SHAs are immutable, so they are cached across fakes and requests
(paging through a 120-file PR must not re-run ``git diff`` for every page).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .gitrepo import GitRepo

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied"}
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_COMMIT_FORMAT = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x1e"


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` hunk: its line ranges on both sides and its lines (header first)."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[str, ...]

    def covers(self, line: int, side: str) -> bool:
        start, count = (self.old_start, self.old_count) if side == "LEFT" else (
            self.new_start, self.new_count)
        return start <= line < start + count


@dataclass(frozen=True)
class FileChange:
    """One file of a diff, with what GitHub's ``diff-entry`` needs and the parsed hunks."""

    filename: str
    previous_filename: str | None
    status: str
    additions: int
    deletions: int
    binary: bool
    old_sha: str
    new_sha: str
    hunks: tuple[Hunk, ...]

    @property
    def patch(self) -> str | None:
        """GitHub's ``patch``: the hunks only; absent for binary files and pure renames."""
        if self.binary or not self.hunks:
            return None
        return "\n".join(line for h in self.hunks for line in h.lines)

    def hunk_index(self, line: int, side: str) -> int | None:
        """Which hunk holds ``line`` on ``side`` (LEFT = old file, RIGHT = new), if any."""
        return next((i for i, h in enumerate(self.hunks) if h.covers(line, side)), None)

    def locate(self, line: int, side: str) -> tuple[int, str] | None:
        """(legacy diff ``position``, ``diff_hunk`` up to the line) for a line in a hunk."""
        position = 0
        for index, hunk in enumerate(self.hunks):
            old, new = hunk.old_start, hunk.new_start
            if index:
                position += 1  # later hunk headers count as positions
            for offset, text in enumerate(hunk.lines[1:], start=1):
                position += 1
                mark = text[:1]
                here = old if side == "LEFT" else new
                on_side = (mark != "+") if side == "LEFT" else (mark != "-")
                if on_side and here == line and mark != "\\":
                    return position, "\n".join(hunk.lines[: offset + 1])
                old += mark in " -"
                new += mark in " +"
        return None

    def position_line(self, position: int) -> tuple[int, str] | None:
        """(line, side) addressed by a legacy diff ``position``, if it is a real line."""
        count = 0
        for index, hunk in enumerate(self.hunks):
            old, new = hunk.old_start, hunk.new_start
            count += 1 if index else 0
            for text in hunk.lines[1:]:
                count += 1
                mark = text[:1]
                if count == position and mark != "\\":
                    return (old, "LEFT") if mark == "-" else (new, "RIGHT")
                old += mark in " -"
                new += mark in " +"
        return None


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def _split_z(data: bytes) -> list[str]:
    return [t.decode("utf-8", errors="replace") for t in data.split(b"\0")]


def _parse_hunks(section: list[str]) -> tuple[Hunk, ...]:
    hunks: list[Hunk] = []
    current: list[str] = []
    for line in section:
        m = _HUNK.match(line)
        if m:
            if current:
                hunks.append(_hunk(current))
            current = [line]
        elif current:
            current.append(line)
    if current:
        hunks.append(_hunk(current))
    return tuple(hunks)


def _hunk(lines: list[str]) -> Hunk:
    m = _HUNK.match(lines[0])
    assert m is not None
    a, b, c, d = m.groups()
    return Hunk(int(a), int(b or 1), int(c), int(d or 1), tuple(lines))


_SHA = re.compile(r"[0-9a-f]{40}")


@functools.lru_cache(maxsize=512)
def _diff(path: str, base: str, head: str) -> tuple[FileChange, ...]:
    repo = GitRepo(Path(path))
    common = ("-M", "--no-ext-diff", "--no-textconv", base, head)
    raw = _split_z(repo.git_bytes("diff", "--raw", "-z", "--no-abbrev", *common))
    numstat = _split_z(repo.git_bytes("diff", "--numstat", "-z", *common))
    patch = repo.git_bytes(
        "diff", "--no-color", "--src-prefix=a/", "--dst-prefix=b/", *common
    ).decode("utf-8", errors="replace")
    sections: list[list[str]] = []
    for line in patch.split("\n"):
        if line.startswith("diff --git "):
            sections.append([])
        elif sections:
            sections[-1].append(line)
    counts: list[tuple[str, str]] = []
    i = 0
    while i < len(numstat) - 1:
        added, deleted, name = numstat[i].split("\t", 2)
        counts.append((added, deleted))
        i += 3 if name == "" else 1
    changes: list[FileChange] = []
    i = 0
    while i < len(raw) - 1:
        meta = raw[i].split()
        letter = meta[4][0]
        if letter in "RC":
            previous, filename, i = raw[i + 1], raw[i + 2], i + 3
        else:
            previous, filename, i = None, raw[i + 1], i + 2
        added, deleted = counts[len(changes)]
        section = sections[len(changes)] if len(changes) < len(sections) else []
        binary = added == "-"
        changes.append(FileChange(
            filename=filename,
            previous_filename=previous,
            status=_STATUS.get(letter, "changed"),
            additions=0 if binary else int(added),
            deletions=0 if binary else int(deleted),
            binary=binary,
            old_sha=meta[2],
            new_sha=meta[3],
            hunks=() if binary else _parse_hunks(section),
        ))
    return tuple(changes)


def diff(repo: GitRepo, base: str, head: str) -> tuple[FileChange, ...]:
    """The files changed from ``base`` to ``head`` (both SHAs), in git's order."""
    return _diff(str(repo.path), base, head)


def raw_diff(repo: GitRepo, base: str, head: str) -> bytes:
    """The unified diff text (``application/vnd.github.diff``)."""
    return repo.git_bytes("diff", "-M", "--no-color", "--src-prefix=a/", "--dst-prefix=b/",
                          base, head)


def merge_base(repo: GitRepo, a: str, b: str) -> str | None:
    if _SHA.fullmatch(a) and _SHA.fullmatch(b):  # commits never change: ask git once
        return _merge_base(str(repo.path), a, b)
    return _merge_base.__wrapped__(str(repo.path), a, b)


@functools.lru_cache(maxsize=1024)
def _merge_base(path: str, a: str, b: str) -> str | None:
    proc = GitRepo(Path(path)).run("merge-base", a, b)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def count(repo: GitRepo, spec: str) -> int:
    """``git rev-list --count <spec>`` (e.g. ``base..head``)."""
    return int(repo.git("rev-list", "--count", spec).strip())


def is_ancestor(repo: GitRepo, ancestor: str, descendant: str) -> bool:
    return repo.run("merge-base", "--is-ancestor", ancestor, descendant).returncode == 0


def log(repo: GitRepo, *args: str) -> list[CommitInfo]:
    """Commits as ``git log <args>`` lists them (newest first unless ``--reverse``)."""
    out = repo.git("log", f"--format={_COMMIT_FORMAT}", *args)
    commits = []
    for chunk in out.split("\x1e"):
        chunk = chunk.lstrip("\n")
        if not chunk:
            continue
        f = chunk.split("\x00")
        commits.append(CommitInfo(
            sha=f[0], tree=f[1], parents=tuple(f[2].split()), author_name=f[3],
            author_email=f[4], author_date=f[5], committer_name=f[6], committer_email=f[7],
            committer_date=f[8], message=f[9].rstrip("\n"),
        ))
    return commits


@functools.lru_cache(maxsize=1024)
def _commit(path: str, sha: str) -> CommitInfo:
    return log(GitRepo(Path(path)), "-1", sha)[0]


def commit(repo: GitRepo, sha: str) -> CommitInfo:
    """One commit's metadata (``sha`` must be a full SHA: it is cached)."""
    return _commit(str(repo.path), sha)


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


def parse_ls_tree(out: bytes) -> list[TreeEntry]:
    entries = []
    for item in _split_z(out):
        if not item:
            continue
        meta, path = item.split("\t", 1)
        mode, kind, sha, size = meta.split()
        entries.append(TreeEntry(mode, kind, sha, None if size == "-" else int(size), path))
    return entries


def ls_tree(repo: GitRepo, treeish: str, *paths: str, recursive: bool = False) -> list[TreeEntry]:
    """``git ls-tree -l`` entries for literal ``paths`` (``-r -t`` when recursive)."""
    flags = ["-r", "-t"] if recursive else []
    args = ("ls-tree", "-z", "-l", *flags, treeish, "--", *paths)
    out = repo.git_bytes("--literal-pathspecs", *args)
    return parse_ls_tree(out)


def object_type(repo: GitRepo, sha: str) -> str | None:
    proc = repo.run("cat-file", "-t", sha)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def blob(repo: GitRepo, sha: str) -> bytes:
    return repo.git_bytes("cat-file", "blob", sha)


def archive(repo: GitRepo, sha: str, prefix: str) -> bytes:
    """A gzipped tarball of ``sha`` with every path under ``prefix`` (like codeload)."""
    return _archive(str(repo.path), sha, prefix)


@functools.lru_cache(maxsize=64)
def _archive(path: str, sha: str, prefix: str) -> bytes:
    return GitRepo(Path(path)).git_bytes("archive", "--format=tar.gz", f"--prefix={prefix}", sha)
