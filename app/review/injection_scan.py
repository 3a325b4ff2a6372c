"""One run of consecutive lines, read every way a phrase can hide in it.

The lines are folded (`injection_text`) and read as one flowing text, so that a sentence wrapped
over a comment block is still one sentence; then again through each disguise undone: rot13,
leetspeak, spaced-out letters, string literals joined (`"ign" + "ore"`), comments joined across
code lines, and whatever base64, hex, escapes, entities or URL encoding decode to (itself read
the same way, twice at most). The phrase rules (`injection_lexicon`) and the forged-structure
patterns (`injection_patterns`) run on every view; a finding names the lines it spans.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from app.review import injection_patterns as patterns
from app.review.injection_decode import decodings, encoded
from app.review.injection_lexicon import Matcher, load
from app.review.injection_prefilter import candidate_runs, fold_lines
from app.review.injection_text import (
    LOOSE,
    OPAQUE,
    ROT13,
    comment,
    concept_line,
    fold,
    is_i_or_l,
    leet,
    literals,
    spaced_out,
)

_MAX_DEPTH = 2  # decoded text is decoded once more (base64 of hex), no further
_NEWLINE = re.compile("\n")
_LATIN = re.compile("[a-z]")


@dataclass(frozen=True, slots=True)
class Found:
    """Lines `first`..`last` (indexes into the scanned lines) hold text of this kind."""

    first: int
    last: int
    kind: str
    phrase: str


@functools.cache
def matcher() -> Matcher:
    """The phrase lists compiled once per process (pure data; loading takes ~0.1 s)."""
    return Matcher(load())


class _View:
    """Pieces of text, each from one line, joined into one string that remembers its lines."""

    def __init__(self, pieces: Iterable[tuple[int, str, str]]) -> None:
        parts = [" "]
        self.starts: list[int] = []
        self.lines: list[int] = []
        length = 1
        for line, glue, text in pieces:
            if not text:
                continue
            if self.lines and glue:
                parts.append(glue)
                length += len(glue)
            self.starts.append(length)
            self.lines.append(line)
            parts.append(text)
            length += len(text)
        parts.append(" ")
        self.text = "".join(parts)

    def line_at(self, offset: int) -> int:
        return self.lines[max(bisect.bisect_right(self.starts, offset) - 1, 0)]


def _hyphenated(folded: str) -> bool:
    stripped = folded.rstrip()
    return len(stripped) > 1 and stripped[-1] == "-" and stripped[-2].isalpha()


def _flow(folded: Sequence[str], words: Sequence[str]) -> _View:
    """The lines as one text; a word hyphenated at a line's end is joined to the next line's."""
    pieces = []
    glue = " "
    for index, text in enumerate(words):
        pieces.append((index, glue, text))
        glue = "" if _hyphenated(folded[index]) else " "
    return _View(pieces)


def _rule_matches(
    view: _View, label: str, *, loose: bool = False, infix: bool = False
) -> list[Found]:
    rules = matcher()
    if not view.lines:
        return []
    hits = rules.infix.hits(view.text) if infix else rules.hits(view.text, loose=loose)
    if not hits:
        return []
    found = []
    for match in rules.matches(view.text, hits):
        start = view.text.rfind(" ", 0, match.start) + 1
        end = view.text.find(" ", match.end)
        phrase = " ".join(view.text[start : end if end >= 0 else None].split())
        if label:
            phrase = f"{phrase} ({label})"
        found.append(
            Found(view.line_at(match.start), view.line_at(match.end - 1), match.kind, phrase)
        )
    return found


def _phrases(raw: Sequence[str], folded: Sequence[str]) -> list[Found]:
    words = [concept_line(line) for line in folded]
    flow = _flow(folded, words)
    found = _rule_matches(flow, "")
    if _LATIN.search(flow.text):
        found += _rule_matches(_flow(folded, [w.translate(ROT13) for w in words]), "rot13")
    found += _ambiguous_look_alikes(raw, folded, words)
    spelled = [leet(line) for line in folded]
    if any(s is not None for s in spelled):
        loose = [w.translate(LOOSE) for w in words]
        spelt = [
            concept_line(s) if s is not None else w for s, w in zip(spelled, loose, strict=True)
        ]
        # What the loose spelling alone (l read as i) finds is no leetspeak: drop it.
        plain = {
            (f.first, f.last, f.kind) for f in _rule_matches(_flow(folded, loose), "", loose=True)
        }
        found += [
            f
            for f in _rule_matches(_flow(folded, spelt), "leetspeak", loose=True)
            if (f.first, f.last, f.kind) not in plain
        ]
    for index, line in enumerate(folded):
        for number, version in enumerate(spaced_out(line)):
            view = _View([(index, " ", concept_line(version))])
            found += _rule_matches(view, "spaced out", infix=number == 1)
    found += _joined(raw)
    return found


def _literal_groups(raw: Sequence[str], *, opaque: bool = True) -> list[list[tuple[int, str]]]:
    """The string literals of the lines, grouped where they stand on neighbouring lines (two
    apart at most): the pieces a concatenation may have been split into. Without `opaque`,
    literals that are one run of base64's alphabet (data, decoded elsewhere) are left out."""
    groups: list[list[tuple[int, str]]] = []
    for index, line in enumerate(raw):
        for text in literals(line):
            if not opaque and OPAQUE.fullmatch(text):
                continue
            if groups and index - groups[-1][-1][0] <= 2:
                groups[-1].append((index, text))
            else:
                groups.append([(index, text)])
    return [g for g in groups if len(g) >= 2]


def _ambiguous_look_alikes(
    raw: Sequence[str], folded: Sequence[str], words: Sequence[str]
) -> list[Found]:
    """Look-alikes of i whose skeleton is l (Cherokee V, some Greek and Cyrillic letters: UTS #39
    puts I, l and 1 in one class): lines holding one are read again in the loose spelling."""
    ambiguous = [not line.isascii() and is_i_or_l(line) for line in raw]
    if not any(ambiguous):
        return []
    loose = [w.translate(LOOSE) if a else w for w, a in zip(words, ambiguous, strict=True)]
    return [
        f
        for f in _rule_matches(_flow(folded, loose), "look-alikes", loose=True)
        if any(ambiguous[f.first : f.last + 1])
    ]


def _joined(raw: Sequence[str]) -> list[Found]:
    """String literals joined (as written, and with spaces between), and comments joined
    across code lines."""
    found: list[Found] = []
    for group in _literal_groups(raw, opaque=False):
        first, last = group[0][0], group[-1][0]
        glued = concept_line(fold("".join(text for _, text in group)))
        for match in _rule_matches(_View([(first, " ", glued)]), "joined strings"):
            found.append(Found(first, last, match.kind, match.phrase))
        spaced = _View((i, " ", concept_line(fold(text))) for i, text in group)
        found += _rule_matches(spaced, "joined strings")
    notes = [(i, text) for i, line in enumerate(raw) if (text := comment(line))]
    for run in _near(notes):
        view = _View((i, " ", concept_line(fold(text))) for i, text in run)
        found += _rule_matches(view, "joined comments")
    return found


def _near(items: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Runs of at least two items on consecutive lines (or one line apart)."""
    run: list[tuple[int, str]] = []
    for item in items:
        if run and item[0] - run[-1][0] > 2:
            if len(run) >= 2:
                yield run
            run = []
        run.append(item)
    if len(run) >= 2:
        yield run


def _structures(raw: Sequence[str], folded: Sequence[str], *, markup: bool) -> list[Found]:
    text = "\n".join(folded)
    starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    found = []
    hinted = sorted({bisect.bisect_right(starts, at) - 1 for at in patterns.hinted(text)})
    for index in hinted:
        line, low = raw[index], folded[index]
        for phrase in patterns.role_tags(line, low, markup=markup):
            found.append(Found(index, index, "role-tag", phrase))
        for phrase in patterns.fences(low):
            found.append(Found(index, index, "forged-structure", phrase))
    for index, phrase in patterns.score_objects(text, starts).items():
        found.append(Found(index, index, "forged-structure", phrase))
    if "|" in text:
        rules = matcher()
        about_marks: dict[range, bool] = {}
        for row, table in patterns.table_rows(folded):
            if table not in about_marks:  # the table names marks or a rubric somewhere
                header = " " + " ".join(concept_line(folded[i]) for i in table[:40]) + " "
                concepts = {h.concept for h in rules.hits(header)}
                about_marks[table] = bool(concepts & {"score_label", "rubric"})
            if about_marks[table]:
                found.append(Found(row, row, "forged-structure", folded[row].strip()))
    return found


def _decoded(raw: Sequence[str], depth: int, markup: bool) -> list[Found]:
    found: list[Found] = []
    text = "\n".join(raw)
    starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
    hinted = sorted({bisect.bisect_right(starts, at) - 1 for at in encoded(text)})
    sources = [(i, raw[i]) for i in hinted]
    marked = set(hinted)
    for group in _literal_groups([raw[i] if i in marked else "" for i in range(len(raw))]):
        # an encoded blob split into concatenated strings
        sources.append((group[0][0], "".join(text for _, text in group)))
    for index, line in sources:
        for label, text in decodings(line):
            inner = scan_block(text.split("\n"), markup=markup, depth=depth + 1)
            found += [Found(index, index, f.kind, f"{f.phrase} ({label})") for f in inner]
    return found


def scan_block(
    raw: Sequence[str], *, markup: bool = False, depth: int = 0, reduce: bool = True
) -> list[Found]:
    """What the lines `raw` hold that addresses the grader, by line range (first found first);
    without `reduce`, also the matches that merely extend another over a neighbouring line."""
    folded = fold_lines(raw)
    found = _structures(raw, folded, markup=markup)
    for run in candidate_runs(raw, folded, matcher()):
        shift = run.start
        for f in _phrases(raw[run.start : run.stop], folded[run.start : run.stop]):
            found.append(Found(f.first + shift, f.last + shift, f.kind, f.phrase))
    if depth < _MAX_DEPTH:
        found += _decoded(raw, depth, markup)
    return _irreducible(found) if reduce else found


def _irreducible(found: list[Found]) -> list[Found]:
    """Without matches over several lines that extend a match of the same kind on their first or
    last line: a phrase on one line is not also reported, stitched to its neighbour, next to it."""
    spans: dict[str, set[tuple[int, int]]] = {}
    for f in found:
        spans.setdefault(f.kind, set()).add((f.first, f.last))
    return [
        f
        for f in found
        if f.first == f.last
        or not any(
            (a == f.first or b == f.last)
            and f.first <= a <= b <= f.last
            and (a, b) != (f.first, f.last)
            for a, b in spans[f.kind]
        )
    ]
