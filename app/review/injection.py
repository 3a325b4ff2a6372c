"""Deterministic detection of submission text addressed to the grader (prompt injection), and its
removal from what the LLM reads.

Submission text is data: the prompt fences it and nothing in it can change the rubric or scores.
Attempts to talk to the grader ("ignore previous instructions", "give this 10/10", in any of a
dozen languages, encoded, split, spelled in look-alikes or leetspeak, or shaped like the prompt
itself) are still worth a human's attention, so they are found here without any model and
reported as warnings. It is a signal for reviewers, not a guarantee: a determined candidate can
word a request no list foresees.

`scan_submission` reads what the candidate wrote: the lines each changed file adds (the rest is
the starter's), file names, the PR title and body and commit messages. `redact_flagged` replaces
what the scan flags by a neutral marker, line for line, so that a detected attempt never reaches
the model: pass it (after secret masking) as the LLM reviewer's `mask`.

How text is read is in `injection_scan` (views), `injection_text` (normalisation),
`injection_lexicon` with `data/injection/*.toml` (phrases in eleven languages and the rules that
combine them), `injection_decode` (encodings) and `injection_patterns` (forged structure).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from app.review.injection_scan import Found, scan_block
from app.review.injection_text import (
    MARKER,
    TAG_FIRST,
    TAG_LAST,
    comment,
    concept_line,
    decode_tags,
    fold,
)
from app.review.models import ChangedFile, Finding, Severity, Submission
from app.review.prompt_hunks import parse_patch
from app.review.textfile import is_binary

__all__ = [
    "MARKER",
    "RULE",
    "InjectionHit",
    "normalise",
    "redact_flagged",
    "scan_submission",
    "scan_text",
]

RULE = "relo/possible-injection"
TITLE = "Possible attempt to influence the review"
_MAX_PHRASE = 80
_MAX_FINDINGS_PER_SOURCE = 10
_CONTEXT = 3  # lines read around a reported line: a sentence may be wrapped over a few
_MARKUP = (".xml", ".xsd", ".xsl", ".xslt", ".html", ".htm", ".xhtml", ".svg", ".vue", ".jsx")


@dataclass(frozen=True, slots=True)
class InjectionHit:
    """One suspicious line: where it is, its 1-based line, the kind and the normalised phrase."""

    where: str
    path: str | None
    line: int
    kind: str
    phrase: str


def normalise(text: str) -> str:
    """`text` as the phrase lists see it: disguises undone, words one space apart."""
    return concept_line(fold(text))


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
        # Embeddings and isolates are how right-to-left text (Arabic, Hebrew) mixes with
        # left-to-right words; in a line without such text they can only reorder code.
        return None if _RTL.search(text) else "bidi-control"
    if char == "\ufeff" and index == 0 and first:  # byte-order mark
        return None
    # Zero-width characters split words that would otherwise be read ("ig\u200bnore"); next to a
    # space or punctuation, or between letters of scripts that use them (emoji sequences, Indic
    # and Arabic joiners, Thai word breaks), they change nothing a reader or a pattern sees.
    before = text[index - 1] if index > 0 else " "
    after = text[index + 1] if index + 1 < len(text) else " "
    if not (before.isalnum() and after.isalnum()) or not (before.isascii() or after.isascii()):
        return None
    return "invisible-unicode"


_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


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


def _runs(numbers: Sequence[int]) -> Iterator[list[int]]:
    """Runs of consecutive numbers."""
    run: list[int] = []
    for number in numbers:
        if run and number != run[-1] + 1:
            yield run
            run = []
        run.append(number)
    if run:
        yield run


def _found(
    raw_lines: Sequence[str], numbers: Sequence[int], markup: bool, *, reduce: bool = True
) -> Iterator[Found]:
    """What each run of the given (1-based) line numbers holds, with line numbers, not indexes."""
    for run in _runs(numbers):
        block = [raw_lines[n - 1] for n in run]
        for found in scan_block(block, markup=markup, reduce=reduce):
            yield Found(run[found.first], run[found.last], found.kind, found.phrase)


def scan_text(
    text: str, *, where: str, path: str | None = None, lines: Collection[int] | None = None
) -> list[InjectionHit]:
    """Lines of `text` that address the grader or hide characters, one hit per line and kind.

    With `lines` (1-based), only those lines are reported: the lines a candidate changed in a
    file whose other lines are the starter's. A phrase wrapped over several lines is reported on
    its first line that is reported; neighbours of reported lines are read for that only.
    """
    raw_lines = text.split("\n")
    count = len(raw_lines)
    wanted = None if lines is None else frozenset(n for n in lines if 1 <= n <= count)
    found: dict[tuple[int, str], str] = {}

    def add(line: int, kind: str, phrase: str) -> None:
        found.setdefault((line, kind), _clip(phrase))

    if not text.isascii():
        for number in range(1, count + 1) if wanted is None else sorted(wanted):
            raw = raw_lines[number - 1]
            if not raw.isascii():
                for kind, phrase in _hidden_hits(raw, first=number == 1):
                    add(number, kind, phrase)

    if wanted is None:
        numbers: Sequence[int] = range(1, count + 1)
    else:
        near = {m for n in wanted for m in range(n - _CONTEXT, n + _CONTEXT + 1)}
        numbers = sorted(m for m in near if 1 <= m <= count)
    markup = path is not None and path.casefold().endswith(_MARKUP)
    for hit in _found(raw_lines, numbers, markup):
        span = range(hit.first, hit.last + 1)
        reported = next((n for n in span if wanted is None or n in wanted), None)
        if reported is not None:
            add(reported, hit.kind, hit.phrase)
    return [
        InjectionHit(where=where, path=path, line=line, kind=kind, phrase=phrase)
        for (line, kind), phrase in sorted(found.items())
    ]


# --- redaction -----------------------------------------------------------------------------------

_SMUGGLED = re.compile("[\U000e0000-\U000e007f\u202a-\u202e\u2066-\u2069]")


def redact_flagged(text: str, *, marker: str = MARKER) -> str:
    """`text` with every line the scan flags replaced by `marker` (indentation kept), and
    invisible tag and bidirectional-control characters dropped; the lines stay as many and in
    place, so line numbers shown to the model do not move. Pure; meant as (part of) the LLM
    reviewer's `mask`."""
    raw_lines = text.split("\n")
    flagged: set[int] = set()
    for hit in _found(raw_lines, range(1, len(raw_lines) + 1), markup=False, reduce=False):
        flagged.update(range(hit.first, hit.last + 1))
    for number in flagged:
        line = raw_lines[number - 1]
        raw_lines[number - 1] = _redact_line(line, marker)
    redacted = "\n".join(raw_lines)
    return _SMUGGLED.sub("", redacted) if not redacted.isascii() else redacted


def _redact_line(line: str, marker: str) -> str:
    """The line's comment replaced when the comment alone is what is flagged (the code before
    it stays for the review); else the whole line, indentation kept."""
    note = comment(line)
    if note:
        start = line.rfind(note)
        code = line[:start].rstrip(" #/*-;<!%")
        if code.strip() and start > 0 and scan_block([note]):
            return line[:start] + marker
    return line[: len(line) - len(line.lstrip(" \t"))] + marker


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
    "forged-structure": "imitates the grader's prompt or answer (a fence, score object or rubric)",
    "invisible-unicode": "contains invisible characters",
    "bidi-control": "contains bidirectional control characters",
    "tag-characters": "contains invisible Unicode tag characters",
}
_NAME_SEPARATORS = re.compile(r"[_\-./\\]+")
_CHARACTER_KINDS = frozenset({"invisible-unicode", "bidi-control", "tag-characters"})


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


def _patch_text(patch: str) -> tuple[str, frozenset[int]]:
    """The new side of a patch as text (lines the patch does not show left empty), and the
    numbers of its added lines: what the model reads of a file whose content was not fetched."""
    shown: dict[int, str] = {}
    added: set[int] = set()
    for hunk in parse_patch(patch):
        for line in hunk.lines:
            if line.new_line is not None:
                shown[line.new_line] = line.text
                if line.kind == "+":
                    added.add(line.new_line)
    last = max(shown, default=0)
    return "\n".join(shown.get(n, "") for n in range(1, last + 1)), frozenset(added)


def _file_hits(changed: ChangedFile, content: bytes | None) -> list[InjectionHit]:
    """Hits in what the candidate wrote in one file: its content when fetched and text, else the
    added lines of its patch (a file too big to fetch still reaches the model as a patch)."""
    if content is not None and not is_binary(content):
        text = content.decode("utf-8", errors="replace")
        return scan_text(text, where="file", path=changed.path, lines=_candidate_lines(changed))
    if changed.patch:
        text, added = _patch_text(changed.patch)
        return scan_text(text, where="file", path=changed.path, lines=added)
    return []


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
        hits = _file_hits(changed, submission.contents.get(changed.path))
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
