"""Which code goes into which LLM request: the solution before its tests and docs, each file
rendered as a block, packed into as few requests as fit the per-request token budget (a file too
large for one request is split by hunks), and whole files left out, with the reason, once the
per-review cap is reached.

Pure functions only, so what a review costs and what it leaves out are tested without a server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import PurePosixPath

from app.review.models import ChangedFile, SkippedFile
from app.review.prompt_hunks import CONTEXT_LINES, Mask, file_hunks, identity, mask_hunk

DEFAULT_BUDGET_TOKENS = 24_000
CHARS_PER_TOKEN = 4
#: Tokens the fence lines (`prompt.FENCE_OPEN`) and message framing add to a request, beyond
#: the file blocks.
FENCE_TOKENS = 32


def estimate_tokens(text: str) -> int:
    """ceil(len/4): the usual chars-per-token rule for English and code with BPE tokenizers.

    Deterministic and dependency-free, so planning needs no tokenizer at run time. Calibrated
    against o200k_base (the tokenizer of OpenAI's current models) on the prompts the service
    sends: whole reviews are over-estimated by 3-7 % and no request is under-estimated (`python
    -m bench prompt`, tests/review/test_prompt_tokens.py), so requests stay under the budget.
    """
    return _tokens_for(len(text))


def _tokens_for(chars: int) -> int:
    """`estimate_tokens` of a text of `chars` characters: lets splitting count a joined text's
    tokens from its parts' lengths, without joining it again for every line added."""
    return -(-chars // CHARS_PER_TOKEN)


# --- ordering -----------------------------------------------------------------------------------


class Importance(IntEnum):
    """Review order: the candidate's solution first, then its tests, then docs and config."""

    SOURCE = 0
    TESTS = 1
    DOCS_CONFIG = 2


# test_x.py, conftest.py, x_test.go, x.test.ts, x.spec.js, FooTest.java (not "contest.py")
_TEST_NAME = re.compile(
    r"^(?i:test_|conftest\.)|(?i:[_.-](test|tests|spec)\.[^.]+)$|[a-z0-9](Test|Tests|Spec)\.[^.]+$"
)
_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing"})
_DOC_DIRS = frozenset({"doc", "docs", ".github", ".vscode", ".idea"})
# fmt: off
_DOC_CONFIG_SUFFIXES = frozenset({
    ".md", ".rst", ".txt", ".adoc", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf",
    ".lock", ".xml", ".csv", ".env", ".properties", ".svg", ".png", ".jpg", ".gif",
})
_DOC_CONFIG_NAMES = frozenset({
    "license", "licence", "makefile", "dockerfile", "procfile", "readme", "changelog", "go.sum",
    "requirements.txt", "package-lock.json", "yarn.lock", "poetry.lock", "cargo.lock",
})
# fmt: on


def importance(path: str) -> Importance:
    """Classify by path alone: the model's attention (and the budget) goes to the solution first."""
    pure = PurePosixPath(path.lower())
    name = pure.name
    if any(part in _TEST_DIRS for part in pure.parts[:-1]) or _TEST_NAME.search(
        PurePosixPath(path).name
    ):
        return Importance.TESTS
    if (
        name in _DOC_CONFIG_NAMES
        or pure.suffix in _DOC_CONFIG_SUFFIXES
        or name.startswith(".")
        or any(part in _DOC_DIRS for part in pure.parts[:-1])
    ):
        return Importance.DOCS_CONFIG
    return Importance.SOURCE


def order_files(files: Iterable[ChangedFile]) -> tuple[ChangedFile, ...]:
    return tuple(sorted(files, key=lambda f: (importance(f.path), f.path)))


# --- file blocks and planning -------------------------------------------------------------------


def _printable(text: str) -> str:
    """A path on one line: candidate-chosen names must not break the block structure."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@dataclass(frozen=True, slots=True)
class FileBlock:
    """One file (or one part of a file too large for a request) as the model sees it."""

    path: str
    status: str
    hunks: tuple[str, ...]
    part: int = 1
    parts: int = 1
    previous_path: str | None = None
    #: The block's size with its joining newline, counted once: packing asks for it per request.
    tokens: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", estimate_tokens(self.text) + 1)

    @property
    def header(self) -> str:
        status = self.status
        if self.previous_path:
            status += f", from {_printable(self.previous_path)}"
        if self.parts > 1:
            status += f", part {self.part} of {self.parts}"
        return f"=== FILE {_printable(self.path)} ({status}) ==="

    @property
    def text(self) -> str:
        return "\n".join([self.header, *self.hunks])


@dataclass(frozen=True, slots=True)
class RequestPlan:
    blocks: tuple[FileBlock, ...]
    overhead_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.overhead_tokens + sum(b.tokens for b in self.blocks)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.path for b in self.blocks))

    @property
    def code_tokens(self) -> int:
        return sum(b.tokens for b in self.blocks)


@dataclass(frozen=True, slots=True)
class Plan:
    requests: tuple[RequestPlan, ...]
    not_reviewed: tuple[SkippedFile, ...] = ()

    @property
    def total_tokens(self) -> int:
        return sum(r.tokens for r in self.requests)


NO_TEXT = "no text diff available (binary, or too large for GitHub to show)"


def render_block(
    file: ChangedFile, content: bytes | None, mask: Mask, context: int
) -> FileBlock | None:
    """None when there is nothing the model could read; removed files are a header only."""
    path, previous = mask(file.path), file.previous_path and mask(file.previous_path)
    if file.status == "removed":
        return FileBlock(path, file.status, (), previous_path=previous)
    hunks = file_hunks(file, content, context)
    if hunks is None:
        return None
    rendered = tuple(f"@@\n{mask_hunk(h, mask)}" for h in hunks)
    return FileBlock(path, file.status, rendered, previous_path=previous)


def split_block(block: FileBlock, available: int) -> tuple[FileBlock, ...]:
    """Split a file too big for one request by hunks (by lines for a single oversized hunk).

    Linear in the block's size: a part's tokens are counted from its pieces' lengths.
    """
    if block.tokens <= available:
        return (block,)
    header_cost = estimate_tokens(block.header) + 8
    room = max(available - header_cost, 1)
    pieces: list[str] = []
    for hunk in block.hunks:
        if estimate_tokens(hunk) + 1 <= room:
            pieces.append(hunk)
            continue
        chunk: list[str] = []
        size = -1  # len("\n".join(chunk)); -1 while empty, so adding a line adds len + 1
        for line in hunk.split("\n"):
            if chunk and _tokens_for(size + 1 + len(line)) + 1 > room:
                pieces.append("\n".join(chunk))
                chunk = ["@@"] if line != "@@" else []
                size = len("@@") if chunk else -1
            chunk.append(line)
            size += 1 + len(line)
        if chunk:
            pieces.append("\n".join(chunk))
    groups: list[list[str]] = [[]]
    size = -1
    for piece in pieces:
        if groups[-1] and _tokens_for(size + 1 + len(piece)) + 1 > room:
            groups.append([])
            size = -1
        groups[-1].append(piece)
        size += 1 + len(piece)
    n = len(groups)
    return tuple(
        FileBlock(block.path, block.status, tuple(g), i, n, block.previous_path)
        for i, g in enumerate(groups, start=1)
    )


@dataclass(frozen=True, slots=True)
class _Placement:
    into_last: tuple[FileBlock, ...]
    opened: tuple[tuple[FileBlock, ...], ...]
    total: int


@dataclass(slots=True)
class _Packer:
    """Requests filled in order: a block joins the last request if it fits, else opens one.

    Only the last request can still take a block, so placing a file costs only its own blocks;
    re-packing every request for every file made planning quadratic in the number of files.
    """

    available: int
    per_request: int  # what each request costs before its blocks
    requests: list[list[FileBlock]] = field(default_factory=list)
    last_tokens: int = 0
    total: int = 0  # the whole plan's tokens, overhead included

    def place(self, blocks: Sequence[FileBlock]) -> _Placement:
        """Where `blocks` would go, and the plan's total then; nothing changes until `commit`."""
        room = self.available - self.last_tokens if self.requests else -1
        fit = 0
        for block in blocks:
            if block.tokens > room:
                break
            room -= block.tokens
            fit += 1
        opened: list[list[FileBlock]] = []
        filled = 0
        for block in blocks[fit:]:
            if not opened or filled + block.tokens > self.available:
                opened.append([])
                filled = 0
            opened[-1].append(block)
            filled += block.tokens
        total = self.total + sum(b.tokens for b in blocks) + len(opened) * self.per_request
        return _Placement(tuple(blocks[:fit]), tuple(tuple(r) for r in opened), total)

    def commit(self, placement: _Placement) -> None:
        if placement.into_last:
            self.requests[-1].extend(placement.into_last)
            self.last_tokens += sum(b.tokens for b in placement.into_last)
        if placement.opened:
            self.requests.extend(list(r) for r in placement.opened)
            self.last_tokens = sum(b.tokens for b in placement.opened[-1])
        self.total = placement.total


def plan_requests(
    files: Sequence[ChangedFile],
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    max_total_tokens: int | None = None,
    *,
    contents: Mapping[str, bytes] | None = None,
    mask: Mask = identity,
    context: int = CONTEXT_LINES,
    overhead_tokens: int = 0,
) -> Plan:
    """Pack files, most important first, into as few requests as fit `budget_tokens` each.

    `overhead_tokens` is what every request costs before any file (system message, fence).
    Under `max_total_tokens` (the whole review, overhead included) a file is reviewed entirely or
    not at all; a file that does not fit is listed with the reason and smaller later files may
    still be reviewed.
    """
    available = budget_tokens - overhead_tokens - FENCE_TOKENS
    if available <= 0:
        raise ValueError("the per-request budget does not cover the fixed prompt")
    contents = contents or {}
    packer = _Packer(available, overhead_tokens + FENCE_TOKENS)
    skipped: list[SkippedFile] = []
    for file in order_files(files):
        block = render_block(file, contents.get(file.path), mask, context)
        if block is None:
            skipped.append(SkippedFile(file.path, NO_TEXT))
            continue
        placement = packer.place(split_block(block, available))
        if max_total_tokens is not None and placement.total > max_total_tokens:
            reason = f"the per-review cap of {max_total_tokens} tokens was reached"
            skipped.append(SkippedFile(file.path, reason))
            continue
        packer.commit(placement)
    return Plan(
        tuple(RequestPlan(tuple(r), overhead_tokens + FENCE_TOKENS) for r in packer.requests),
        tuple(skipped),
    )


def changed_code_tokens(
    files: Sequence[ChangedFile],
    contents: Mapping[str, bytes] | None = None,
    context: int = CONTEXT_LINES,
) -> int:
    """Tokens of the changed code itself (hunks with context, no numbers or framing): the
    benchmark's baseline for what a prompt costs beyond the code."""
    contents = contents or {}
    total = 0
    for file in files:
        hunks = file_hunks(file, contents.get(file.path), context) or ()
        total += sum(estimate_tokens("\n".join(line.text for line in h.lines)) for h in hunks)
    return total
