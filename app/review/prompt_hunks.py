"""The change as the model reads it: GitHub's patch parsed into hunks, trimmed to a few lines of
context, each line numbered as the model cites it, and secrets masked without shifting a number.

Lines carry their number in the new version of the file, the only numbers a finding can be
anchored to; deleted lines are shown without one, so they cannot be cited. Lines are split on
"\n" only, as git counts them: `str.splitlines()` also breaks at form feeds, U+2028 and the like,
and would shift every later number.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from app.review.models import ChangedFile

Mask = Callable[[str], str]

CONTEXT_LINES = 3


def identity(text: str) -> str:
    """The mask that masks nothing (the default when no secret masking is wanted)."""
    return text


class DiffLine(NamedTuple):
    """A tuple, not a dataclass: a 3 MB patch is 60,000 of them, and tuples of strings and ints
    drop out of the garbage collector's sight, so they do not set off a collection of the whole
    process (which stops the event loop with every other thread)."""

    kind: Literal["+", " ", "-"]
    new_line: int | None  # None for deleted lines: they cannot be cited
    text: str


@dataclass(frozen=True, slots=True)
class Hunk:
    lines: tuple[DiffLine, ...]


def parse_patch(patch: str) -> tuple[Hunk, ...]:
    """Parse GitHub's `patch` field (unified diff hunks without file headers)."""
    hunks: list[Hunk] = []
    current: list[DiffLine] | None = None
    new_no = 0
    for raw in git_lines(patch):
        if raw.startswith("@@"):
            if current:
                hunks.append(Hunk(tuple(current)))
            current = []
            new_no = _new_start(raw)
            continue
        if current is None or raw.startswith("\\"):
            continue  # text before the first hunk, or "\ No newline at end of file"
        kind, text = (raw[0], raw[1:]) if raw else (" ", "")
        if kind == "-":
            current.append(DiffLine("-", None, text))
        elif kind in "+ ":
            current.append(DiffLine("+" if kind == "+" else " ", new_no, text))
            new_no += 1
    if current:
        hunks.append(Hunk(tuple(current)))
    return tuple(hunks)


def git_lines(text: str) -> list[str]:
    """`text` split into lines as git counts them: at "\n" only, a final newline ending the last
    line rather than starting another. A "\r" before the "\n" stays in the line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _new_start(header: str) -> int:
    # "@@ -a,b +c,d @@ section"
    for token in header.split():
        if token.startswith("+"):
            return int(token[1:].split(",")[0] or 0)
    return 1


def trim_context(hunk: Hunk, context: int = CONTEXT_LINES) -> tuple[Hunk, ...]:
    """Keep `context` unchanged lines around changes; split where a longer unchanged run remains."""
    changed = [i for i, line in enumerate(hunk.lines) if line.kind != " "]
    if not changed:
        return ()
    keep = {j for i in changed for j in range(i - context, i + context + 1)}
    out: list[Hunk] = []
    run: list[DiffLine] = []
    for i, line in enumerate(hunk.lines):
        if i in keep:
            run.append(line)
        elif run:
            out.append(Hunk(tuple(run)))
            run = []
    if run:
        out.append(Hunk(tuple(run)))
    return tuple(out)


def hunks_from_content(
    text: str, changed_lines: frozenset[int], context: int = CONTEXT_LINES
) -> tuple[Hunk, ...]:
    """For files GitHub sends without a patch: show the changed lines (and context) of the head."""
    lines = git_lines(text)
    marked = tuple(
        DiffLine("+" if n in changed_lines else " ", n, line)
        for n, line in enumerate(lines, start=1)
    )
    return trim_context(Hunk(marked), context)


def file_hunks(
    file: ChangedFile, content: bytes | None = None, context: int = CONTEXT_LINES
) -> tuple[Hunk, ...] | None:
    """The file's hunks with context, or None when there is no text to show (binary, too big)."""
    if file.patch is not None:
        return tuple(h for hunk in parse_patch(file.patch) for h in trim_context(hunk, context))
    if content is None or b"\0" in content:
        return None
    return hunks_from_content(content.decode("utf-8", "replace"), file.changed_lines, context)


MAX_LINE_CHARS = 400


def render_line(line: DiffLine) -> str:
    """`12 + code`: the new-side number the model cites, the kind, the code (long lines cut:
    minified or generated lines cost tokens and say nothing about the candidate).

    The number is not padded: padding to five columns cost about 2.5 of the ~3.5 tokens the
    prefix took per line (o200k_base), a third of a large prompt, and told the model nothing.
    Every line keeps its own number, so the model copies a citation rather than counting lines.
    A deleted line starts with its kind ("- code"): with no number it cannot be cited.
    """
    text = line.text
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + " [line cut]"
    if line.new_line is None:
        return f"{line.kind} {text}".rstrip()
    return f"{line.new_line} {line.kind} {text}".rstrip()


def render_hunk(hunk: Hunk) -> str:
    return "\n".join(render_line(line) for line in hunk.lines)


_WITHHELD = "[lines withheld: they hold a secret that could not be masked line by line]"

#: The mask runs regular expressions, and each call holds the GIL for its whole text: a hunk
#: longer than this is masked in windows of lines, so one huge file cannot stall the event loop.
MASK_WINDOW_CHARS = 64 * 1024
#: Context masked with each window on both sides, so that a secret crossing the window's edge is
#: seen whole (a PEM private key is at most about 16 KB).
MASK_MARGIN_CHARS = 20 * 1024


def _mask_lines(texts: Sequence[str], mask: Mask) -> list[str] | None:
    """`texts` masked one for one, or None when a secret spans lines and cannot be masked without
    shifting a line number.

    Masking the joined code catches multi-line secrets (PEM keys); if that changes the line count,
    mask line by line, and give up when a secret still spans lines.
    """
    joined = "\n".join(texts)
    masked = mask(joined)
    if masked.count("\n") == joined.count("\n"):
        return masked.split("\n")
    per_line = [mask(t) for t in texts]
    rejoined = "\n".join(per_line)
    return None if mask(rejoined) != rejoined else per_line


def _windows(texts: Sequence[str]) -> Iterator[tuple[int, int, int, int]]:
    """(first, end) of each window's own lines and (low, high) of the lines it is masked with."""
    ends = list(itertools.accumulate(len(t) + 1 for t in texts))
    count = len(texts)
    if not ends or ends[-1] <= MASK_WINDOW_CHARS:
        yield 0, count, 0, count
        return
    first = 0
    while first < count:
        base = ends[first - 1] if first else 0
        end = min(max(bisect.bisect_right(ends, base + MASK_WINDOW_CHARS), first + 1), count)
        low = bisect.bisect_right(ends, base - MASK_MARGIN_CHARS)
        high = min(bisect.bisect_left(ends, ends[end - 1] + MASK_MARGIN_CHARS) + 1, count)
        yield first, end, low, high
        first = end


def mask_hunk(hunk: Hunk, mask: Mask) -> str:
    """Render a hunk with secrets masked, without ever shifting a line number.

    Lines where a secret spans lines are withheld (the whole hunk when it is small; the window
    holding the secret in a huge one). A line is masked before it is cut, and only the part that
    can be shown (plus a margin for a secret across the cut) is masked.
    """
    limit = MAX_LINE_CHARS + MASK_MARGIN_CHARS
    texts = [line.text[:limit] for line in hunk.lines]
    out: list[str] = []
    for first, end, low, high in _windows(texts):
        masked = _mask_lines(texts[low:high], mask)
        if masked is None:
            out.append(_WITHHELD)
            continue
        out.extend(
            render_line(DiffLine(line.kind, line.new_line, text))
            for line, text in zip(
                hunk.lines[first:end], masked[first - low : end - low], strict=True
            )
        )
    return "\n".join(out)
