"""Synthetic submissions of a given size, made of real Python lines (modules of the standard
library, fixed for a Python version, so runs compare), with the line lengths, indentation and
token counts of code a candidate writes.

A change is a set of files with their starter (`before`, None for a new file) and submitted
(`after`) text: about half the changed lines are in new files, the rest in edited files
(hunks that replace or insert a few lines among unchanged ones).
"""

from __future__ import annotations

import difflib
import functools
import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Plain application-style code from the standard library (no huge tables or docstring blocks).
CORPUS_MODULES = (
    "argparse.py", "difflib.py", "textwrap.py", "shutil.py", "configparser.py", "csv.py",
    "fractions.py", "statistics.py", "dataclasses.py", "json/decoder.py", "json/encoder.py",
    "logging/handlers.py", "http/cookiejar.py", "asyncio/queues.py", "asyncio/locks.py",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyntheticFile:
    path: str
    before: str | None
    after: str

    @property
    def status(self) -> str:
        return "added" if self.before is None else "modified"

    def patch(self) -> str:
        """GitHub's `patch` field: the unified diff's hunks, without the file headers."""
        old = (self.before or "").splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        lines = list(difflib.unified_diff(old, new, n=3))[2:]
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def github_entry(self) -> dict[str, Any]:
        """The file as GitHub's compare/PR-files API lists it."""
        patch = self.patch()
        added = sum(1 for ln in patch.splitlines() if ln.startswith("+"))
        removed = sum(1 for ln in patch.splitlines() if ln.startswith("-"))
        return {
            "filename": self.path,
            "status": self.status,
            "additions": added,
            "deletions": removed,
            "changes": added + removed,
            "patch": patch.rstrip("\n"),
        }


@functools.cache
def corpus() -> tuple[str, ...]:
    """Non-blank lines of the corpus modules, in order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    lines: list[str] = []
    for name in CORPUS_MODULES:
        text = (stdlib / name).read_text(encoding="utf-8")
        lines.extend(ln for ln in text.splitlines() if ln.strip())
    return tuple(lines)


def _slice(rng: random.Random, n: int) -> list[str]:
    lines = corpus()
    start = rng.randrange(0, len(lines) - n)
    return list(lines[start : start + n])


def _edited(rng: random.Random, changed: int) -> tuple[str, str]:
    """A starter file and its edit with `changed` added lines in hunks of 2 to 12 lines."""
    before = _slice(rng, max(40, changed * 3))
    after = list(before)
    remaining = changed
    # Edit from the bottom up so earlier positions stay valid.
    positions = sorted(rng.sample(range(2, len(before) - 2), k=max(1, changed // 6)), reverse=True)
    for pos in positions:
        if remaining <= 0:
            break
        size = min(remaining, rng.randint(2, 12))
        replaced = rng.choice((0, 1, size // 2, size))
        after[pos : pos + replaced] = _slice(rng, size)
        remaining -= size
    if remaining > 0:
        after.extend(_slice(rng, remaining))
    return "\n".join(before) + "\n", "\n".join(after) + "\n"


def synthetic_change(changed_lines: int, seed: int = 1) -> list[SyntheticFile]:
    """Files whose diff adds about `changed_lines` lines (the exact count: count the '+')."""
    rng = random.Random(seed * 7919 + changed_lines)
    files: list[SyntheticFile] = []
    new_budget = changed_lines // 2
    index = 0
    while new_budget > 0:
        n = min(new_budget, rng.randint(40, 220))
        folder = "tests" if index % 5 == 4 else "solution"
        name = f"test_part{index}.py" if folder == "tests" else f"part{index}.py"
        files.append(SyntheticFile(f"{folder}/{name}", None, "\n".join(_slice(rng, n)) + "\n"))
        new_budget -= n
        index += 1
    edit_budget = changed_lines - changed_lines // 2
    while edit_budget > 0:
        n = min(edit_budget, rng.randint(15, 120))
        before, after = _edited(rng, n)
        files.append(SyntheticFile(f"solution/starter{index}.py", before, after))
        edit_budget -= n
        index += 1
    return files


def added_lines(files: list[SyntheticFile]) -> int:
    return sum(f.github_entry()["additions"] for f in files)
