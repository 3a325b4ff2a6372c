"""Deterministic detection of submission text addressed to the grader (prompt injection).

Submission text is data: the prompt fences it and nothing in it can change the rubric or scores.
Attempts to talk to the grader ("ignore previous instructions", "give this 10/10") are still worth
a human's attention, so they are found here without any model, and reported as warnings.

This module scans: every line of file contents and names, the PR title and body and commit
messages, phrases wrapped over two lines, and invisible or bidirectional characters. What text is
matched against, and how it is normalised first, is in `injection_patterns`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from app.review.injection_patterns import (
    INST_TAG,
    ROLE_TAGS,
    SYSTEM_TAG,
    TAG_FIRST,
    TAG_LAST,
    decode_tags,
    fold,
    normalise,
    phrase_matches,
    strip_comment,
    uncloak,
)
from app.review.models import Finding, Severity, Submission

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


def _hidden_kind(text: str, index: int) -> str | None:
    """The kind of the hidden character at `index`, or None when it is a legitimate use."""
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
    if char == "\ufeff" and index == 0:  # byte-order mark
        return None
    if char in "\u200c\u200d":
        # Joiners are legitimate inside emoji sequences and non-Latin scripts.
        before = text[index - 1] if index > 0 else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        if ord(before) > 0x7F and ord(after) > 0x7F:
            return None
    return "invisible-unicode"


def _hidden_hits(text: str, line_starts: list[int]) -> Iterator[tuple[int, str, str]]:
    """(line, kind, phrase) for each line holding suspicious invisible characters."""
    seen: dict[tuple[int, str], set[str]] = {}
    line = 1
    for match in _HIDDEN.finditer(text):
        kind = _hidden_kind(text, match.start())
        if kind is None:
            continue
        while line < len(line_starts) and line_starts[line] <= match.start():
            line += 1
        if kind == "tag-characters":
            label = f"hidden text {decode_tags(match.group(0))[:60]!r}"
        else:
            label = f"U+{ord(match.group(0)):04X}"
        seen.setdefault((line, kind), set()).add(label)
    for (line_no, kind), codes in sorted(seen.items()):
        yield line_no, kind, " ".join(sorted(codes))


# --- scanning ------------------------------------------------------------------------------------


def _clip(phrase: str) -> str:
    phrase = phrase.strip()
    return phrase if len(phrase) <= _MAX_PHRASE else phrase[: _MAX_PHRASE - 1] + "…"


def scan_text(text: str, *, where: str, path: str | None = None) -> list[InjectionHit]:
    """Lines of `text` that address the grader or hide characters, one hit per line and kind.

    A phrase split over two adjacent lines (e.g. a wrapped comment) is reported on its first line.
    """
    raw_lines = text.split("\n")
    line_starts = [0]
    for raw in raw_lines[:-1]:
        line_starts.append(line_starts[-1] + len(raw) + 1)
    found: dict[tuple[int, str], str] = {}

    def add(line: int, kind: str, phrase: str) -> None:
        found.setdefault((line, kind), _clip(phrase))

    for line, kind, phrase in _hidden_hits(text, line_starts):
        add(line, kind, phrase)

    is_xml = path is not None and path.casefold().endswith((".xml", ".xsd", ".xsl", ".xslt"))
    stripped: list[str] = []
    single: list[set[tuple[str, str]]] = []
    for number, raw in enumerate(raw_lines, start=1):
        uncloaked = uncloak(raw)
        norm = fold(uncloaked)
        bare = strip_comment(norm)
        stripped.append(bare)
        for match in ROLE_TAGS.finditer(norm):
            add(number, "role-tag", match.group(0))
        for match in INST_TAG.finditer(uncloaked):
            add(number, "role-tag", match.group(0))
        system_tag = None if is_xml else SYSTEM_TAG.search(norm)
        if system_tag is not None:
            add(number, "role-tag", system_tag.group(0))
        matched = {(kind, match.group(0)) for kind, match in phrase_matches(bare)}
        single.append(matched)
        for kind, phrase in matched:
            add(number, kind, phrase)

    # A phrase wrapped over two lines is whatever the pair matches that neither line does alone.
    for index in range(len(stripped) - 1):
        first, second = stripped[index], stripped[index + 1]
        if not first or not second:
            continue
        pair = {(kind, match.group(0)) for kind, match in phrase_matches(f"{first} {second}")}
        for kind, phrase in pair - single[index] - single[index + 1]:
            add(index + 1, kind, phrase)

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


def scan_submission(submission: Submission) -> tuple[Finding, ...]:
    """Warnings for text addressed to the grader anywhere the candidate wrote: changed files'
    content and names, the PR title and body, and commit messages.

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
        findings.extend(_findings(scan_text(text, where="file", path=changed.path), in_file=True))
    texts = [("PR title", submission.title), ("PR body", submission.body)]
    texts += [
        (f"commit message {number}", message)
        for number, message in enumerate(submission.commit_messages, start=1)
    ]
    for where, text in texts:
        if text:
            findings.extend(_findings(scan_text(text, where=where), in_file=False))
    return tuple(findings)
