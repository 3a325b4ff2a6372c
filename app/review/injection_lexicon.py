"""The phrase lists and rules of the injection detector, loaded from `data/injection/*.toml`
(the format is in that folder's README.md), and the matching of them in a concept view.

Every entry becomes a key of an Aho-Corasick automaton (pyahocorasick), normalised like the
text; word boundaries are spaces around the key, since a concept view is words one space apart.
One pass over a view finds every concept; a rule then needs one match of each of its concepts
within its span, not overlapping, with no barrier between them.
"""

from __future__ import annotations

import bisect
import itertools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import ahocorasick  # type: ignore[import-not-found]  # no stubs; used through `_Automaton`

from app.review.injection_text import BARRIER, LOOSE, ROT13, concept_line, fold, unspaced

DEFAULT_SPAN = 100
_MAX_GAP = 60  # characters between two consecutive concepts of one match
_MIN_INFIX = 4  # in the all-joined view of spaced-out letters, shorter keys match too often
# Full marks as a fraction, once `concept_line` has written every score as `N/N`: 10/10, 20/20.
_FULL_MARKS = re.compile(r"(?<= )([2-9]|[1-9]\d{1,3})/\1(?= )")


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    concepts: tuple[str, ...]
    span: int = DEFAULT_SPAN
    ordered: bool = False
    gap: int = _MAX_GAP


@dataclass(frozen=True, slots=True)
class Hit:
    """A concept found in a view, at [start, end)."""

    start: int
    end: int
    concept: str


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that fired: its kind, and the part of the view its concepts cover."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Lexicon:
    concepts: Mapping[str, tuple[str, ...]]  # concept -> entries, as written in the data files
    rules: tuple[Rule, ...]


def load(folder: Any = None) -> Lexicon:
    """Every `*.toml` of the data folder: language files' concepts merged, and the rules."""
    root = folder if folder is not None else resources.files("app.review") / "data" / "injection"
    concepts: dict[str, list[str]] = {}
    rules: list[Rule] = []
    for item in sorted(root.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        data = tomllib.loads(item.read_text(encoding="utf-8"))
        for name, entries in data.get("concepts", {}).items():
            concepts.setdefault(name, []).extend(entries)
        for rule in data.get("rule", []):
            rules.append(
                Rule(
                    rule["kind"],
                    tuple(rule["concepts"]),
                    int(rule.get("span", DEFAULT_SPAN)),
                    bool(rule.get("ordered", False)),
                    int(rule.get("gap", _MAX_GAP)),
                )
            )
    missing = {c for r in rules for c in r.concepts} - set(concepts)
    if missing:
        raise ValueError(f"rules name concepts no phrase list defines: {sorted(missing)}")
    return Lexicon({k: tuple(v) for k, v in concepts.items()}, tuple(rules))


# --- keys -----------------------------------------------------------------------------------------


def entry_key(entry: str, *, loose: bool = False, infix: bool = False) -> tuple[str, int, int]:
    """The automaton key of an entry, and how many sentinel spaces lead and trail it."""
    text = entry.strip()
    head, tail = text.startswith("*"), text.endswith("*") and len(text) > 1
    words = concept_line(fold(text.strip("*")))
    if loose:
        words = words.translate(LOOSE)
    if infix or unspaced(words):
        return words.replace(" ", "") if infix else words, 0, 0
    lead = 0 if head else 1
    trail = 0 if tail else 1
    return " " * lead + words + " " * trail, lead, trail


class _Automaton:
    """Concept keys -> the concepts they stand for, found in one pass (a typed facade)."""

    def __init__(
        self,
        concepts: Mapping[str, Iterable[str]],
        *,
        loose: bool,
        infix: bool,
        also: str | dict[int, int] | None = None,
    ) -> None:
        """`also`: a translation whose image of every key is a key too (rot13: one pass then
        finds what is written and what is written in rot13)."""
        table: dict[str, tuple[int, int, set[str]]] = {}
        for concept, entries in concepts.items():
            for entry in entries:
                key, lead, trail = entry_key(entry, loose=loose, infix=infix)
                if not key.strip() or (infix and len(key) < _MIN_INFIX and not unspaced(key)):
                    continue
                table.setdefault(key, (lead, trail, set()))[2].add(concept)
                if also is not None:
                    table.setdefault(key.translate(also), (lead, trail, set()))[2].add(concept)
        self._automaton = ahocorasick.Automaton()
        for key, (lead, trail, names) in table.items():
            self._automaton.add_word(key, (len(key), lead, trail, tuple(sorted(names))))
        self._automaton.make_automaton()

    def ends(self, view: str) -> Iterator[int]:
        """Where a key ends in `view` (the prefilter needs no more)."""
        for last, _ in self._automaton.iter(view):
            yield last

    def hits(self, view: str) -> list[Hit]:
        found: list[Hit] = []
        for last, (length, lead, trail, names) in self._automaton.iter(view):
            start, end = last - length + 1 + lead, last + 1 - trail
            found.extend(Hit(start, end, name) for name in names)
        found.sort(key=lambda h: (h.start, h.end))
        return found


# --- rules ----------------------------------------------------------------------------------------


def _fits(chosen: Sequence[Hit], rule: Rule) -> bool:
    ordered = sorted(chosen, key=lambda h: h.start)
    if ordered[-1].end - ordered[0].start > rule.span:
        return False
    pairs = itertools.pairwise(ordered)
    return all(b.start >= a.end and b.start - a.end <= rule.gap for a, b in pairs)


_OPTIONS = 4  # nearest matches of each other concept tried around an anchor


def _search(
    rule: Rule, by_concept: Mapping[str, Sequence[Hit]], barriers: Sequence[int]
) -> Iterator[Match]:
    """For each match of the rule's first concept, the tightest set of the others around it
    (ties go to the set in the rule's own order: "give this 10/10", not the 10/10 before)."""
    first, *others = rule.concepts
    starts = {c: [h.start for h in by_concept[c]] for c in others}
    for anchor in by_concept[first]:
        low, high = anchor.start - rule.span, anchor.end + rule.span
        if rule.ordered:
            low = anchor.end
        options = []
        for concept in others:
            hits = by_concept[concept]
            left = bisect.bisect_left(starts[concept], low)
            window = hits[left : bisect.bisect_right(starts[concept], high)]
            options.append(sorted(window, key=lambda h: abs(h.start - anchor.start))[:_OPTIONS])
        best: tuple[int, int, list[Hit]] | None = None
        for rest in itertools.product(*options):
            chosen = [anchor, *rest]
            if not _valid(rule, chosen, barriers):
                continue
            start, end = min(h.start for h in chosen), max(h.end for h in chosen)
            rank = (end - start, _inversions(chosen))
            if best is None or rank < best[:2]:
                best = (*rank, chosen)
        if best is not None:
            chosen = best[2]
            yield Match(rule.kind, min(h.start for h in chosen), max(h.end for h in chosen))


def _inversions(chosen: Sequence[Hit]) -> int:
    return sum(a.start > b.start for a, b in itertools.combinations(chosen, 2))


def _valid(rule: Rule, chosen: Sequence[Hit], barriers: Sequence[int]) -> bool:
    if rule.ordered and any(b.start < a.end for a, b in itertools.pairwise(chosen)):
        return False
    if not _fits(chosen, rule):
        return False
    start, end = min(h.start for h in chosen), max(h.end for h in chosen)
    return bisect.bisect_left(barriers, start) == bisect.bisect_left(barriers, end)


# Concepts from the most to the least frequent in clean code and documentation (measured on
# starlette, Alembic and translated manual pages; unlisted ones were never seen there). Each
# rule is anchored by its rarest concept: a line without any anchor, nor a neighbour with one,
# cannot hold a match, and is not read further.
_COMMON = (
    "colon", "self", "issues", "neg", "rules", "prior_weak", "all_your", "new", "give",
    "as_role", "report", "prior", "score_label", "reveal", "flag", "instructions", "please",
    "ai", "override", "ignore", "grader", "flaws", "must", "deserve", "attention", "lenient",
)  # fmt: skip
# Also anchors: the words a disguise is likeliest to leave whole when it breaks the rarest one.
_EXTRA_ANCHORS = ("instructions",)


def anchors(lexicon: Lexicon) -> frozenset[str]:
    """The concepts whose presence nearby every rule needs (its rarest concept each)."""
    rank = {name: index for index, name in enumerate(_COMMON)}
    chosen = {min(r.concepts, key=lambda c: -rank.get(c, len(_COMMON))) for r in lexicon.rules}
    return frozenset(chosen | set(_EXTRA_ANCHORS))


class Matcher:
    """The lexicon compiled: strict, loose (leetspeak) and infix (joined letters) automata, and
    automata of the anchor concepts alone for the prefilter."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.strict = _Automaton(lexicon.concepts, loose=False, infix=False)
        self.loose = _Automaton(lexicon.concepts, loose=True, infix=False)
        self.infix = _Automaton(lexicon.concepts, loose=False, infix=True)
        picked = anchors(lexicon)
        anchored = {c: e for c, e in lexicon.concepts.items() if c in picked}
        self.anchor = _Automaton(anchored, loose=False, infix=False, also=ROT13)
        self.loose_anchor = _Automaton(anchored, loose=True, infix=False)

    def hits(self, view: str, *, loose: bool = False) -> list[Hit]:
        """Every concept in a view: the phrase lists' and full marks written as `N/N`."""
        found = (self.loose if loose else self.strict).hits(view)
        if "/" in view:
            extra = [Hit(m.start(), m.end(), "top_score") for m in _FULL_MARKS.finditer(view)]
            if extra:
                found = sorted(found + extra, key=lambda h: (h.start, h.end))
        return found

    def matches(self, view: str, hits: Sequence[Hit]) -> list[Match]:
        """Every rule that fires on the `hits` of `view`."""
        weights = _weights(view)
        if weights is not None:
            hits = [Hit(weights[h.start], weights[h.end], h.concept) for h in hits]
        by_concept: dict[str, list[Hit]] = {}
        for hit in hits:
            by_concept.setdefault(hit.concept, []).append(hit)
        barriers = [m.start() for m in _BARRIERS.finditer(view)] if BARRIER in view else []
        if weights is not None:
            barriers = [weights[i] for i in barriers]
        found: list[Match] = []
        for rule in self.lexicon.rules:
            if all(c in by_concept for c in rule.concepts):
                found.extend(_search(rule, by_concept, barriers))
        if weights is not None:
            found = [
                Match(
                    m.kind, bisect.bisect_left(weights, m.start), bisect.bisect_left(weights, m.end)
                )
                for m in found
            ]
        return found


_CJK_WEIGHT = 4  # a Han or kana character says about as much as a short word
_CJK_RUN = re.compile("[\u3040-\u9fff\uf900-\ufaff]+")
_BARRIERS = re.compile(BARRIER)


def _weights(view: str) -> list[int] | None:
    """Offsets of a view in which each Chinese or Japanese character counts as a word's worth
    of characters, so that spans and gaps mean the same in every language; None without any."""
    if not unspaced(view):
        return None
    each = [1] * len(view)
    for run in _CJK_RUN.finditer(view):
        each[run.start() : run.end()] = [_CJK_WEIGHT] * (run.end() - run.start())
    return [0, *itertools.accumulate(each)]
