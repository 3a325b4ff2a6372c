"""Which lines of a text could hold text addressed to the grader, cheaply.

Almost every changed line is ordinary code, and reading each one every way a phrase can hide is
the cost of a scan. So the whole text is first folded and reduced to bare words in a few passes
that run in C (regular expressions, `str.translate`, one Aho-Corasick automaton), and only the
lines near an *anchor* (the rarest concept of some rule, `injection_lexicon.anchors`) are read
in full. Anchors are looked for in every reading the full scan has: the lines as one flowing
text (a phrase may be wrapped, even mid-word), in rot13, spelled out of leetspeak, with string
literals joined, and with spaced-out letters. Encoded text has a prefilter of its own
(`injection_decode.encoded`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence

from app.review.injection_lexicon import Matcher
from app.review.injection_text import (
    COMMENTS,
    LOOSE,
    SPACED,
    fold,
    is_i_or_l,
    split_camel,
    strip_pragmas,
    unspaced,
)

# Everything but word characters (Indic vowel signs included), the marks of scores (10/10, 100%,
# a+, :) and those of leetspeak; a Han or kana run is a word of its own.
_ROUGH = re.compile(r"(?:[^\w\n%+:@$!|\u0900-\u0963\u0966-\u0dff]|_)+")
_ASCII_ROUGH = {c: " " for c in range(128) if not chr(c).isalnum() and chr(c) not in "\n%+:@$!|"}
_CJK_EDGE = re.compile(
    "(?<=[\u3040-\u9fff\uf900-\ufaff])(?=[^\u3040-\u9fff\uf900-\ufaff\\s])"
    "|(?<=[^\u3040-\u9fff\uf900-\ufaff\\s])(?=[\u3040-\u9fff\uf900-\ufaff])"
)
_QUOTE_JOIN = re.compile(
    r"[\"'`][ \t]*(?:\+|\.\.?|&|\|\||,|\}\$\{|\)[ \t]*\.[ \t]*concat[ \t]*\(|)[ \t]*[\"'`]"
)
_LITERAL = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'")
_HYPHEN = re.compile(r"[a-z]-[ \t]*$", re.MULTILINE)
_NEWLINE = re.compile("\n")
# Full marks once "/" is a space: "10 10", "10 out of 10".
_FRACTION = re.compile(r"(?<!\d)(\d{1,4}) (?:out of |of )?\1(?!\d)")
_LEET_ALL = str.maketrans("013456789@$!|", "oieasgtbgasii")
_HAS_LEET = re.compile(r"[a-z][0-9@$!|]|[0-9@$!|][a-z]")
_LATIN = re.compile("[a-z]")
_TRAILING_COMMENT = re.compile(r"\S[ \t]*(?:#|//|/\*|<!--)")
NEAR = 3  # lines read around an anchor: a sentence may be wrapped over a few
_SHORT_LINE = 3  # words; lines this short do not count towards NEAR (one word per line)
_REACH = 16  # lines at most on either side of an anchor


def fold_lines(raw: Sequence[str]) -> list[str]:
    """`injection_text.fold` of every line; ASCII lines, most of any code, in bulk."""
    text = "\n".join(raw)
    if text.isascii():
        return split_camel(text).lower().split("\n")
    return [fold(line) for line in raw]


class _Words:
    """Pieces of bare words (one per line, or per string literal) as one string, one space
    apart (none after a piece ending a hyphenated word), that remembers each piece's line."""

    def __init__(
        self, lines: Sequence[int], texts: Sequence[str], glued: frozenset[int] = frozenset()
    ) -> None:
        self.lines = lines
        if glued:
            texts = [t + "\0" if line in glued else t for line, t in zip(lines, texts, strict=True)]
        prefix = itertools.accumulate(map(len, texts), initial=1)
        self.starts = [offset + index for index, offset in enumerate(prefix)][: len(texts)]
        joined = " ".join(texts)
        if glued:
            joined = joined.replace("\0 ", "").replace("\0", "")
            # offsets after a glued piece moved back by two: recompute them
            lengths = (len(t.removesuffix("\0")) for t in texts)
            prefix = itertools.accumulate(lengths, initial=1)
            shift = itertools.accumulate((t.endswith("\0") for t in texts), initial=0)
            moved = enumerate(zip(prefix, shift, strict=False))
            self.starts = [o + i - s for i, (o, s) in moved][: len(texts)]
        self.text = " " + joined + " "

    def line_at(self, offset: int) -> int:
        return self.lines[max(bisect.bisect_right(self.starts, offset) - 1, 0)]


def _bare(text: str) -> list[str]:
    """The bare words of each line of `text`."""
    text = strip_pragmas(text)
    if text.isascii():
        return [" ".join(line.split()) for line in text.translate(_ASCII_ROUGH).split("\n")]
    return [line.strip() for line in _ROUGH.sub(" ", text).split("\n")]


def _anchored(words: _Words, matcher: Matcher) -> list[int]:
    """Lines of `words` where an anchor ends, as written or in rot13 (the anchor automaton
    holds both spellings)."""
    marked = [words.line_at(end) for end in matcher.anchor.ends(words.text)]
    marked += [words.line_at(m.start()) for m in _FRACTION.finditer(words.text)]
    return marked


def _leet_anchored(bare: Sequence[str], lines: Sequence[int], matcher: Matcher) -> list[int]:
    """Lines where an anchor ends once leetspeak is spelled out, looked for on the lines that
    mix letters with leet symbols and their neighbours only."""
    near = sorted({n for line in lines for n in (line - 1, line, line + 1) if 0 <= n < len(bare)})
    words = _Words(near, [bare[n] for n in near])
    spelt = words.text.translate(_LEET_ALL).translate(LOOSE)
    return [words.line_at(end) for end in matcher.loose_anchor.ends(spelt)]


def candidate_runs(raw: Sequence[str], folded: Sequence[str], matcher: Matcher) -> list[range]:
    """Runs of line indexes that hold an anchor in some reading, or are near one (`folded` is
    `fold_lines(raw)`)."""
    text = "\n".join(folded)
    if not text.isascii() and unspaced(text):
        text = _CJK_EDGE.sub(" ", text)
    quoted = '"' in text or "'" in text or "`" in text
    joined = _QUOTE_JOIN.sub("", text) if quoted else text
    newlines = [m.start() for m in _NEWLINE.finditer(joined)]
    glued = frozenset(bisect.bisect_left(newlines, m.start()) for m in _HYPHEN.finditer(joined))
    bare = _bare(joined)
    marked = _anchored(_Words(range(len(folded)), bare, glued), matcher)
    leety = {bisect.bisect_left(newlines, m.start()) for m in _HAS_LEET.finditer(joined)}
    # Look-alikes of i whose skeleton is l are read in the loose spelling too.
    leety |= {i for i, line in enumerate(raw) if not line.isascii() and is_i_or_l(line)}
    if leety:
        marked += _leet_anchored(bare, sorted(leety), matcher)
    if quoted:
        found = [(m.start(), m.group(1) or m.group(2)) for m in _LITERAL.finditer(joined)]
        strings = [(at, piece) for at, piece in found if piece.strip()]
        if len(strings) >= 2:
            lines = [bisect.bisect_left(newlines, at) for at, _ in strings]
            texts = _bare("\n".join(piece.replace("\n", " ") for _, piece in strings))
            marked += _anchored(_Words(lines, texts, frozenset(lines)), matcher)
            marked += _anchored(_Words(lines, texts), matcher)
    if _TRAILING_COMMENT.search(joined):  # comments after code: read them joined, too
        notes = [
            (m.start(), next((g for g in m.groups() if g), "")) for m in COMMENTS.finditer(joined)
        ]
        notes = [(at, note) for at, note in notes if note.strip()]
        if len(notes) >= 2:
            lines = [bisect.bisect_left(newlines, at) for at, _ in notes]
            marked += _anchored(_Words(lines, _bare("\n".join(n for _, n in notes))), matcher)
    if SPACED.search(joined):
        marked += [bisect.bisect_left(newlines, m.start()) for m in SPACED.finditer(joined)]
    return _runs(marked, folded)


def _runs(marked: Sequence[int], folded: Sequence[str]) -> list[range]:
    """The lines around each marked one: NEAR lines of some length on either side (up to
    _REACH lines, so that text written one word per line is read whole)."""
    if not marked:
        return []
    count = len(folded)
    wanted: set[int] = set()
    for line in set(marked):
        wanted.add(line)
        for step in (-1, 1):
            seen = 0
            index = line
            while seen < NEAR and abs(index - line) < _REACH:
                index += step
                if not 0 <= index < count:
                    break
                wanted.add(index)
                if len(folded[index].split()) > _SHORT_LINE:
                    seen += 1
    ordered = sorted(wanted)
    runs: list[range] = []
    start = previous = ordered[0]
    for index in ordered[1:]:
        if index != previous + 1:
            runs.append(range(start, previous + 1))
            start = index
        previous = index
    runs.append(range(start, previous + 1))
    return runs
