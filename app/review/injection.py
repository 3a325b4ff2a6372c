"""Deterministic detection of submission text addressed to the grader (prompt injection).

Submission text is data: the prompt fences it and nothing in it can change the rubric or scores.
Attempts to talk to the grader ("ignore previous instructions", "give this 10/10") are still worth
a human's attention, so they are found here without any model, and reported as warnings.

Text is normalised before matching (NFKC, invisible characters removed, common look-alike letters
mapped to Latin, case folded, whitespace collapsed, spaced-out letters joined) so that simple
disguises still match. Patterns are phrase-shaped rather than keyword-shaped to keep ordinary code
quiet: "you are now logged in" is fine, "you are now the grader" is not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

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


# --- normalisation -------------------------------------------------------------------------------

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F

# Tag characters U+E0020..U+E007E mirror ASCII and can smuggle hidden text: decode it so that the
# hidden words are matched too. Other invisible characters are dropped.
_TRANSLATE: dict[int, int | str | None] = {ord(c): None for c in _ZERO_WIDTH + _BIDI}
_TRANSLATE.update({cp: chr(cp - _TAG_FIRST) for cp in range(0xE0020, 0xE007F)})
_TRANSLATE.update({cp: None for cp in (*range(_TAG_FIRST, 0xE0020), _TAG_LAST)})
# Cyrillic, Greek and other letters that look like Latin ones (escaped: they are the disguise).
_LOOKALIKES = (
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u0261\u04bb\u04cf"
    "\u0578\u03bd\u03bf\u03b1\u03b9\u03ba\u03c4\u03b5\u03c1\u0410\u0412\u0415\u041a\u041c"
    "\u041d\u041e\u0420\u0421\u0422\u0423\u0425\u0406\u0405\u0408"
)
_LATIN = "aeopcyxijsdghlnvoaiktepABEKMHOPCTYXISJ"
_TRANSLATE.update(str.maketrans(_LOOKALIKES, _LATIN))
# Typographic quotes, and markdown emphasis that would split a phrase: "**ignore** previous".
_TRANSLATE.update(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
_TRANSLATE.update(str.maketrans("", "", "*~`"))
_WHITESPACE = re.compile(r"\s+")
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
# Four or more single letters separated by spaces or punctuation: "i g n o r e", "i.g.n.o.r.e".
_SPACED_LETTERS = re.compile(r"(?<![^\W\d_])[^\W\d_](?:[ .\-_·]{1,3}[^\W\d_](?![^\W\d_])){3,}")
_SPACED_SEPARATORS = re.compile(r"[ .\-_·]")
# Comment markers, as they look after normalisation (which drops "*").
_COMMENT_LEAD = re.compile(r"^\s*(?:#+|/+|--+|<!--|;+|\"\"\"|''')?\s*")
_COMMENT_TAIL = re.compile(r"\s*(?:/+|-->|\"\"\"|''')\s*$")


def _decode_tags(run: str) -> str:
    return run.translate(_TRANSLATE)


def _uncloak(text: str) -> str:
    """`text` with hidden tag text decoded, invisible characters dropped and look-alikes mapped."""
    text = _TAG_RUN.sub(lambda m: f" {_decode_tags(m.group(0))} ", text)
    return unicodedata.normalize("NFKC", text.translate(_TRANSLATE)).translate(_TRANSLATE)


def _fold(uncloaked: str) -> str:
    return _WHITESPACE.sub(" ", uncloaked.casefold()).strip()


def normalise(text: str) -> str:
    """`text` as the patterns see it: uncloaked, case-folded, whitespace collapsed."""
    return _fold(_uncloak(text))


def _join_spaced_letters(text: str) -> str:
    return _SPACED_LETTERS.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), text)


def _strip_comment(text: str) -> str:
    return _COMMENT_TAIL.sub("", _COMMENT_LEAD.sub("", text, count=1), count=1)


# --- phrase patterns (on normalised text; `\s*` also matches joined, spaced-out words) -----------

_SCORE = (
    r"(?:10\s*/\s*10|100\s*/\s*100|5\s*/\s*5|100\s*%|10\s*out\s*of\s*10|100\s*out\s*of\s*100"
    r"|full\s*(?:marks?|points|score|credit)|(?:a\s*)?perfect\s*(?:score|grade|marks?|rating|10)"
    r"|(?:the\s*)?(?:maximum|max|highest|top|best)\s*(?:possible\s*)?(?:score|grade|marks?|points"
    r"|rating)|an?\s*a\+)"
)
_SELF = (
    r"(?:this|me|us|my|our|the\s*(?:candidate|submission|solution|author))\s*"
    r"(?:(?:submission|solution|code|pr|pull\s*request|project|assignment|work|candidate)\s*)?"
)
_GRADER_WORDS = (
    r"ai|llm|grader|reviewer|evaluator|examiner|assistant|language\s*model|marker|judge"
    r"|model|bot|chatgpt|gpt|claude|teacher|instructor"
)
_GRADER = f"(?:{_GRADER_WORDS})"
# Up to n filler words; `\s+` (not `\s*`) keeps word splits unambiguous, so matching stays linear.
_FILLER = r"(?:[\w-]+\s+){{0,{n}}}?"

_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (
            "override-instructions",
            r"\b(?:ignore|disregard|forget)\s*(?:(?:all|any|every|each|of|the|your|my|these"
            r"|those)\s*)*(?:previous|prior|above|earlier|preceding|former|original|system"
            r"|grading|reviewer|review)\s*(?:instructions?|prompts?|directions?|guidelines?"
            r"|rules|context|commands?|orders?|messages?)\b",
        ),
        (
            "override-instructions",
            r"\b(?:ignore|disregard|forget)\s*(?:all\s*|everything\s*)+(?:above|you\s*were\s*told"
            r"|you\s*have\s*been\s*told)\b",
        ),
        ("override-instructions", r"\b(?:new|updated|real|actual)\s*instructions\s*:"),
        (
            "rubric-override",
            r"\b(?:ignore|disregard|forget|bypass|override|skip)\s*(?:(?:the|your|any|all|this)"
            r"\s*)*(?:rubric|grading\s*(?:criteria|guidelines|rules|scheme)|marking\s*(?:criteria"
            r"|scheme|guide)|scoring\s*(?:criteria|rules|guidelines))\b",
        ),
        ("grade-request", r"\b(?:give|award|assign|grant)s?\s*" + _SELF + r"(?:an?\s*)?" + _SCORE),
        (
            "grade-request",
            r"\b(?:score|grade|rate|mark|evaluate)\s*" + _SELF + r"(?:as\s*|with\s*|at\s*)?"
            r"(?:an?\s*)?" + _SCORE,
        ),
        (
            "grade-request",
            r"\b(?:this|my)\s*(?:(?:submission|solution|code|pr|work|project|assignment)\s*)?"
            r"(?:deserves|should\s*(?:get|receive|score|be\s*given)|must\s*(?:get|receive|score)"
            r"|gets|earns)\s*(?:an?\s*|the\s*)?" + _SCORE,
        ),
        (
            "role-play",
            r"\byou\s*(?:are|'re)\s*now\s*(?:(?:a|an|the|my|our|acting\s*as|in|no\s*longer)\s*)?"
            + _FILLER.format(n=3)
            + r"(?:"
            + _GRADER_WORDS
            + r"|dan|jailbroken|unrestricted"
            r"|developer\s*mode|god\s*mode|jailbreak\s*mode)\b",
        ),
        (
            "role-play",
            r"\b(?:pretend\s*(?:to\s*be|you\s*are)|act\s*as)\s*(?:an?\s*|the\s*)?"
            + _FILLER.format(n=2)
            + _GRADER
            + r"\b",
        ),
        (
            "addresses-grader",
            r"\bas\s*(?:the|an?|my|your|this)\s*(?:ai\s*)?" + _GRADER + r"\s*,?\s*you\s*"
            r"(?:must|should|shall|will|need|have\s*to|are\s*(?:required|instructed|expected))\b",
        ),
        (
            "addresses-grader",
            r"\bif\s*you\s*(?:are|'re)\s*(?:an?\s*)?(?:ai|llm|large\s*language\s*model"
            r"|language\s*model|automated|chatgpt|gpt|claude|bot)\b",
        ),
        (
            "addresses-grader",
            r"\b(?:dear|hey|hello|hi|attention|note\s*to\s*(?:the\s*)?)\s*,?\s*(?:ai|llm|chatgpt"
            r"|gpt[\w.-]*|claude|gemini|language\s*model|automated\s*(?:grader|reviewer|assistant)"
            r"|ai\s*(?:grader|reviewer|assistant|model))\b",
        ),
        (
            "system-prompt",
            r"\b(?:your|new|updated|real|actual|hidden|secret|original)\s*system\s*"
            r"(?:prompt|message|instructions?)\b",
        ),
        (
            "system-prompt",
            r"\b(?:ignore|override|reveal|disregard|forget|leak)\s*(?:the\s*|your\s*|this\s*)?"
            r"system\s*(?:prompt|message|instructions?)\b",
        ),
        (
            "suppress-findings",
            r"\b(?:do\s*not|don't|never)\s*(?:flag|penali[sz]e|deduct\s*(?:any\s*)?(?:points|marks)"
            r"|mark\s*down)\s*(?:this|these|that|it|me|my|us|our|anything|any)\b",
        ),
        (
            "suppress-findings",
            r"\b(?:do\s*not|don't|never)\s*(?:report|mention)\s*"
            + _FILLER.format(n=4)
            + r"(?:in\s*(?:the|your)\s*(?:review|feedback|report|grade|score|summary|evaluation)"
            r"|to\s*the\s*(?:reviewer|grader|instructor|teacher|human))",
        ),
        ("role-tag", r"^assistant\s*:(?!\s*[\w.\[\],]+(?:\s*\|\s*[\w.\[\],]+)*\s*(?:=.*)?$)"),
    )
)

# Chat-template markers, matched on the normalised line (not comment-stripped).
_ROLE_TAGS = re.compile(
    r"<\|\s*(?:im_start|im_end|system|assistant|user|begin_of_text|start_header_id"
    r"|end_header_id|eot_id)\s*\|>|<</?sys>>"
    r"|^#{1,6}\s*(?:system|assistant)\s*:(?:\s*$|\s*you\b)"
)
# Llama's [INST] is matched case-sensitively: `[inst]` is ordinary code (a one-item list).
_INST_TAG = re.compile(r"\[/?INST\]")
_SYSTEM_TAG = re.compile(r"</?system>")  # not in XML files, where <system> is a real element

# --- invisible and bidirectional characters ------------------------------------------------------

_HIDDEN = re.compile(
    "[\u200b\u200c\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069]|[\U000e0000-\U000e007f]+"
)
_BLACK_FLAG = "\U0001f3f4"  # subdivision flags (🏴 + tag letters + cancel tag) use tag characters


def _hidden_kind(text: str, index: int) -> str | None:
    """The kind of the hidden character at `index`, or None when it is a legitimate use."""
    char = text[index]
    code = ord(char)
    if _TAG_FIRST <= code <= _TAG_LAST:
        start = index
        while start > 0 and _TAG_FIRST <= ord(text[start - 1]) <= _TAG_LAST:
            start -= 1
        end = index
        while end + 1 < len(text) and _TAG_FIRST <= ord(text[end + 1]) <= _TAG_LAST:
            end += 1
        is_flag = (
            start > 0 and text[start - 1] == _BLACK_FLAG and ord(text[end]) == _TAG_LAST
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
            label = f"hidden text {_decode_tags(match.group(0))[:60]!r}"
        else:
            label = f"U+{ord(match.group(0)):04X}"
        seen.setdefault((line, kind), set()).add(label)
    for (line_no, kind), codes in sorted(seen.items()):
        yield line_no, kind, " ".join(sorted(codes))


# --- scanning ------------------------------------------------------------------------------------


def _forms(line: str) -> list[str]:
    """The normalised line, plus a version with spaced-out letters joined when that differs."""
    joined = _join_spaced_letters(line)
    return [line] if joined == line else [line, joined]


def _phrase_matches(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    for form in _forms(text):
        for kind, pattern in _PHRASES:
            for match in pattern.finditer(form):
                yield kind, match


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
        uncloaked = _uncloak(raw)
        norm = _fold(uncloaked)
        bare = _strip_comment(norm)
        stripped.append(bare)
        for match in _ROLE_TAGS.finditer(norm):
            add(number, "role-tag", match.group(0))
        for match in _INST_TAG.finditer(uncloaked):
            add(number, "role-tag", match.group(0))
        system_tag = None if is_xml else _SYSTEM_TAG.search(norm)
        if system_tag is not None:
            add(number, "role-tag", system_tag.group(0))
        matched = {(kind, match.group(0)) for kind, match in _phrase_matches(bare)}
        single.append(matched)
        for kind, phrase in matched:
            add(number, kind, phrase)

    # A phrase wrapped over two lines is whatever the pair matches that neither line does alone.
    for index in range(len(stripped) - 1):
        first, second = stripped[index], stripped[index + 1]
        if not first or not second:
            continue
        pair = {(kind, match.group(0)) for kind, match in _phrase_matches(f"{first} {second}")}
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
