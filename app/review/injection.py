"""Deterministic detection of submission text addressed to the grader (prompt injection).

Submission text is data: the prompt fences it and nothing in it can change the rubric or scores.
Attempts to talk to the grader ("ignore previous instructions", "give this 10/10") are still worth
a human's attention, so they are found here without any model, and reported as warnings.

This module scans what the candidate wrote: the lines each changed file adds (the rest is the
starter's, not theirs), file names, the PR title and body and commit messages; phrases wrapped over
two lines, and invisible or bidirectional characters. What text is matched against, how it is
normalised first, and the required words that spare most lines the patterns, is in
`injection_patterns`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from app.review.injection_patterns import (
    INST_TAG,
    ROLE_TAGS,
    SYSTEM_TAG,
    TAG_FIRST,
    TAG_LAST,
    decode_tags,
    fold,
    line_letters,
    normalise,
    phrase_anchored,
    phrase_matches,
    strip_comment,
    tag_anchored,
    uncloak,
)
from app.review.models import ChangedFile, Finding, Severity, Submission

__all__ = ["RULE", "InjectionHit", "normalise", "scan_submission", "scan_text"]

RULE = "relo/possible-injection"
TITLE = "Possible attempt to influence the review"
_MAX_PHRASE = 80
_MAX_FINDINGS_PER_SOURCE = 10


@dataclass(frozen=True, slots=True)
class InjectionHit:
    """One suspicious line: where it is, its 1-based line, the kind and the normalised phrase."""

    where: str
    path: str | None
    line: int
    kind: str
    phrase: str


# --- invisible and bidirectional characters ------------------------------------------------------

_HIDDEN = re.compile(
    "[\u200b\u200c\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]|[\U000e0000-\U000e007f]+"
)
_BLACK_FLAG = "\U0001f3f4"  # subdivision flags (🏴 + tag letters + cancel tag) use tag characters


def _hidden_kind(text: str, index: int, first: bool) -> str | None:
    """The kind of the hidden character at `index` of a line, or None when it is a legitimate
    use; `first` when the line starts the text."""
    char = text[index]
    code = ord(char)
    if TAG_FIRST <= code <= TAG_LAST:
        start = index
        while start > 0 and TAG_FIRST <= ord(text[start - 1]) <= TAG_LAST:
            start -= 1
        end = index
        while end + 1 < len(text) and TAG_FIRST <= ord(text[end + 1]) <= TAG_LAST:
            end += 1
        is_flag = (
            start > 0 and text[start - 1] == _BLACK_FLAG and ord(text[end]) == TAG_LAST
        ) and end - start <= 7
        return None if is_flag else "tag-characters"
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return "bidi-control"
    if char == "\ufeff" and index == 0 and first:  # byte-order mark
        return None
    if char in "\u200c\u200d":
        # Joiners are legitimate inside emoji sequences and non-Latin scripts.
        before = text[index - 1] if index > 0 else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if ord(before) > 0x7F and ord(after) > 0x7F:
            return None
    return "invisible-unicode"


def _hidden_hits(line: str, *, first: bool) -> Iterator[tuple[str, str]]:
    """(kind, phrase) for each kind of suspicious invisible character in one line."""
    seen: dict[str, set[str]] = {}
    for match in _HIDDEN.finditer(line):
        kind = _hidden_kind(line, match.start(), first)
        if kind is None:
            continue
        if kind == "tag-characters":
            label = f"hidden text {decode_tags(match.group(0))[:60]!r}"
        else:
            label = f"U+{ord(match.group(0)):04X}"
        seen.setdefault(kind, set()).add(label)
    for kind, codes in sorted(seen.items()):
        yield kind, " ".join(sorted(codes))


# --- scanning ------------------------------------------------------------------------------------


def _clip(phrase: str) -> str:
    phrase = phrase.strip()
    return phrase if len(phrase) <= _MAX_PHRASE else phrase[: _MAX_PHRASE - 1] + "…"


def scan_text(
    text: str, *, where: str, path: str | None = None, lines: Collection[int] | None = None
) -> list[InjectionHit]:
    """Lines of `text` that address the grader or hide characters, one hit per line and kind.

    With `lines` (1-based), only those lines are reported: the lines a candidate changed in a
    file whose other lines are the starter's. A phrase split over two adjacent lines (e.g. a
    wrapped comment) is reported on its first line, or on its second when only that one is
    reported; so each neighbour of a reported line is read too, and only for that.
    """
    raw_lines = text.split("\n")
    count = len(raw_lines)
    wanted = None if lines is None else frozenset(n for n in lines if 1 <= n <= count)

    def reported(number: int) -> bool:
        return wanted is None or number in wanted

    found: dict[tuple[int, str], str] = {}

    def add(line: int, kind: str, phrase: str) -> None:
        found.setdefault((line, kind), _clip(phrase))

    if not text.isascii():
        for number in range(1, count + 1) if wanted is None else sorted(wanted):
            raw = raw_lines[number - 1]
            if not raw.isascii():
                for kind, phrase in _hidden_hits(raw, first=number == 1):
                    add(number, kind, phrase)

    # The line numbers read, in order: all of them, or the reported ones and their neighbours.
    if wanted is None:
        numbers: Sequence[int] = range(1, count + 1)
    else:
        numbers = sorted({m for n in wanted for m in (n - 1, n, n + 1) if 1 <= m <= count})
    texts = [raw_lines[n - 1] for n in numbers]
    keys, tag_keys = line_letters(texts)
    # Only lines holding a phrase's first required word can match, alone or with a neighbour;
    # only lines holding a tag word can hold a tag.
    hit = phrase_anchored(keys)
    tagged = tag_anchored(tag_keys)
    read = sorted({j for i in hit for j in (i - 1, i, i + 1) if 0 <= j < len(numbers)} | tagged)

    is_xml = path is not None and path.casefold().endswith((".xml", ".xsd", ".xsl", ".xslt"))
    stripped: dict[int, str] = {}
    single: dict[int, set[tuple[str, str]]] = {}
    for index in read:
        number = numbers[index]
        uncloaked = uncloak(texts[index])
        norm = fold(uncloaked)
        bare = strip_comment(norm)
        stripped[index] = bare
        matched: set[tuple[str, str]] = set()
        if index in hit:
            matched = {(kind, match.group(0)) for kind, match in phrase_matches(bare, keys[index])}
        single[index] = matched
        if not reported(number):
            continue  # read only to be joined with a neighbour
        if index in tagged:
            for match in ROLE_TAGS.finditer(norm):
                add(number, "role-tag", match.group(0))
            for match in INST_TAG.finditer(uncloaked):
                add(number, "role-tag", match.group(0))
            system_tag = None if is_xml else SYSTEM_TAG.search(norm)
            if system_tag is not None:
                add(number, "role-tag", system_tag.group(0))
        for kind, phrase in matched:
            add(number, kind, phrase)

    # A phrase wrapped over two lines is whatever the pair matches that neither line does alone.
    for index in read:
        if index + 1 not in stripped or numbers[index + 1] != numbers[index] + 1:
            continue
        if index not in hit and index + 1 not in hit:
            continue
        first, second = stripped[index], stripped[index + 1]
        if not first or not second:
            continue
        number = numbers[index] if reported(numbers[index]) else numbers[index + 1]
        if not reported(number):
            continue
        pair = {
            (kind, match.group(0))
            for kind, match in phrase_matches(f"{first} {second}", keys[index] + keys[index + 1])
        }
        for kind, phrase in pair - single[index] - single[index + 1]:
            add(number, kind, phrase)

    return [
        InjectionHit(where=where, path=path, line=line, kind=kind, phrase=phrase)
        for (line, kind), phrase in sorted(found.items())
    ]


# --- submission ----------------------------------------------------------------------------------

_LABELS = {
    "override-instructions": "asks to override instructions",
    "rubric-override": "asks to set the rubric aside",
    "grade-request": "asks for a grade",
    "role-play": "tries to reassign the grader's role",
    "addresses-grader": "addresses an AI grader",
    "system-prompt": "refers to the grader's system prompt",
    "suppress-findings": "asks the grader not to report problems",
    "role-tag": "contains a chat-template role marker",
    "invisible-unicode": "contains invisible characters",
    "bidi-control": "contains bidirectional control characters",
    "tag-characters": "contains invisible Unicode tag characters",
}
_NAME_SEPARATORS = re.compile(r"[_\-./\\]+")
_CHARACTER_KINDS = frozenset({"invisible-unicode", "bidi-control", "tag-characters"})


def _is_binary(content: bytes) -> bool:
    return b"\x00" in content[:8192]


def _findings(hits: Iterable[InjectionHit], *, in_file: bool) -> Iterator[Finding]:
    """Findings for the hits of one source: character hits folded into one per kind, and at most
    `_MAX_FINDINGS_PER_SOURCE` in all, so that a hostile file cannot flood the review."""
    by_kind: dict[str, list[InjectionHit]] = {}
    phrases: list[InjectionHit] = []
    for hit in hits:
        if hit.kind in _CHARACTER_KINDS:
            by_kind.setdefault(hit.kind, []).append(hit)
        else:
            phrases.append(hit)
    grouped = [group[0] for group in by_kind.values()] + phrases
    grouped.sort(key=lambda h: h.line)
    for index, hit in enumerate(grouped[:_MAX_FINDINGS_PER_SOURCE]):
        same = by_kind.get(hit.kind, [hit]) if hit.kind in _CHARACTER_KINDS else [hit]
        what = f"{_LABELS.get(hit.kind, hit.kind)} ({hit.phrase})"
        if len(same) > 1:
            what += f" on {len(same)} lines, first line {hit.line}"
        if in_file:
            message = f"This line {what}."
        elif hit.where == "file name":
            message = f"The file name {hit.path!r} {what}."
        else:
            message = f"The {hit.where} (line {hit.line}) {what}."
        message += " Submission text cannot change the review; a person should look at it."
        if index == _MAX_FINDINGS_PER_SOURCE - 1 and len(grouped) > _MAX_FINDINGS_PER_SOURCE:
            message += f" {len(grouped) - _MAX_FINDINGS_PER_SOURCE} more similar lines not listed."
        yield Finding(
            path=(hit.path or "") if in_file else "",
            start_line=hit.line if in_file else 0,
            end_line=hit.line if in_file else 0,
            severity=Severity.WARNING,
            rule=RULE,
            message=message,
            title=TITLE,
            source="injection",
        )


def _candidate_lines(changed: ChangedFile) -> frozenset[int] | None:
    """The lines of a changed file that the candidate wrote, or None for all of them: when the
    file has additions but no line numbers for them (no patch, or one that did not parse)."""
    if not changed.changed_lines and (changed.patch is None or changed.additions > 0):
        return None
    return changed.changed_lines


def scan_submission(submission: Submission) -> tuple[Finding, ...]:
    """Warnings for text addressed to the grader anywhere the candidate wrote: the lines a changed
    file adds (the rest is the starter's), changed files' names, the PR title and body, and commit
    messages.

    File-content hits are anchored at their line; the others use path "" and line 0, since they
    belong in the summary rather than in annotations.
    """
    findings: list[Finding] = []
    for changed in submission.change.files:
        if changed.status == "removed":
            continue
        # Separators in names stand for spaces: "ignore_previous-instructions.md".
        name = _NAME_SEPARATORS.sub(" ", changed.path)
        name_hits = scan_text(name, where="file name", path=changed.path)
        findings.extend(_findings(name_hits, in_file=False))
        content = submission.contents.get(changed.path)
        if content is None or _is_binary(content):
            continue
        text = content.decode("utf-8", errors="replace")
        hits = scan_text(text, where="file", path=changed.path, lines=_candidate_lines(changed))
        findings.extend(_findings(hits, in_file=True))
    texts = [("PR title", submission.title), ("PR body", submission.body)]
    texts += [
        (f"commit message {number}", message)
        for number, message in enumerate(submission.commit_messages, start=1)
    ]
    for where, text in texts:
        if text:
            findings.extend(_findings(scan_text(text, where=where), in_file=False))
    return tuple(findings)
