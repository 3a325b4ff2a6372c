"""Forged structure: text shaped like the prompt rather than worded at the grader.

Chat-template tokens and role tags (`<|im_start|>`, `[INST]`, `<grader_instructions>`,
`[SYSTEM]`), markers that imitate the fence around the submission (`<<<END-SUBMISSION-…>>>`,
`=== FILE … ===`), JSON objects shaped like the grader's answer (`"score": …` beside
`"rationale"`), and rubric tables that award full marks. All are matched on folded lines
(`injection_text.fold`: look-alikes and case undone, punctuation kept); the few whose case
matters (`[INST]` is Llama's tag, `[inst]` a one-item list) on the raw line.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence

# --- role tags ------------------------------------------------------------------------------------

_CHAT_TOKENS = re.compile(
    r"<\|\s*[a-z_][\w.\u2581-]{0,40}\s*\|>"  # <|im_start|>, <|eot_id|>, DeepSeek's full-width bars
    r"|<</?sys>>"
    r"|</?(?:start_of_turn|end_of_turn)>"
    r"|^\s*#{1,6}\s*(?:system|assistant|instruction|system prompt)\s*:(?:\s*$|\s*you\b)"
    r"|^\s*(?:#|//|<!--)?\s*(?:system|assistant|human|ai)\s*:\s*(?:you are|you re|ignore|from now"
    r"|give|the candidate|this submission)\b"
    # A chat turn, not a type annotation (`assistant: str | None = None`).
    r"|^\s*(?:assistant|human)\s*:(?!\s*[\w.\[\],]+(?:\s*\|\s*[\w.\[\],]+)*\s*(?:=.*)?$)"
)
_INST = re.compile(
    r"\[/?INST\]|\[/?(?:SYSTEM|SYS|ADMIN|DEVELOPER|GRADER|REVIEWER|EVALUATOR"
    r"|INSTRUCTIONS?|IMPORTANT|ASSISTANT|OVERRIDE|AI|LLM)(?:[ _-][A-Z _-]{1,30})?\]"
)
# Tag names that only a prompt has, in any file.
_ROLE_NAME = re.compile(
    r"grader|grading|reviewer|evaluator|examiner|rubric|scoring|jailbreak|system[_-]?prompt"
    r"|system[_-]?message|system[_-]?instruction|llm|ai[_-]instruction|admin[_-]instruction"
    r"|prompt[_-]?injection|judge|hidden[_-]instruction|secret[_-]instruction|model[_-]instruction"
)
# Tag names a prompt uses that markup languages may use too: not in XML or HTML files.
_ROLE_WORD = frozenset({"system", "assistant", "instructions", "instruction", "important", "sys"})
# A tag, with attributes if any (`<instruction illegale>` is a placeholder in prose, not a tag).
_TAG = re.compile(r"</?\s*([a-z][\w:.-]{0,60})(?:\s+[\w:.-]+\s*=[^<>]{0,200})?\s*/?>")
_BRACKET_TAG = re.compile(
    r"^\s*(?:#+|//+|<!--|\*)?\s*\[\s*/?\s*(?:system|sys|grader|reviewer|evaluator|instructions?"
    r"|assistant|important|admin|developer|note to (?:the )?(?:grader|ai|reviewer|evaluator)"
    r"|grader notes?|ai instructions?|system (?:message|prompt|note))\s*\]\s*\S"
)


# Lines that may hold a tag, token or fence at all: the per-line patterns run on these only.
_HINTS = (
    (
        "<",
        re.compile(
            r"<\||<<|</?\s*[\w:.-]*(?:grader|grading|reviewer|evaluator|examiner|rubric|scoring"
            r"|jailbreak|prompt|system|assistant|llm|judge|instruction|important|sys\b|submission"
            r"|untrusted|candidate|user[_-]input|start_of_turn|end_of_turn|message)"
        ),
    ),
    (
        "[",
        re.compile(
            r"\[\s*/?\s*(?:inst|system|sys|grader|reviewer|evaluator|instruction|assistant|important"
            r"|admin|developer|note to|ai\b|llm|override|end|begin)"
        ),
    ),
    (">", re.compile(r">>>|>{2,}\s*(?:end|begin)")),
    ("system", re.compile(r"system[ \t]*:")),
    ("assistant", re.compile(r"assistant[ \t]*:")),
    ("human", re.compile(r"human[ \t]*:")),
    ("instruction", re.compile(r"instruction[ \t]*:")),
    ("ai", re.compile(r"\bai[ \t]*:")),
    ("===", re.compile(r"^\s*={3}\s*file", re.MULTILINE)),
)
# Fence-like delimiter lines name what they fence: only texts with such a word hold one.
_FENCE_NAMES = ("submission", "untrusted", "candidate", "user input", "user_input", "student")
_FENCE_LINE = re.compile(
    r"^.*(?:submission|untrusted|candidate|user.input|student).*$", re.MULTILINE
)


def hinted(text: str) -> Iterator[int]:
    """Offsets in folded `text` where a tag, token or fence may start."""
    for mark, pattern in _HINTS:
        if mark in text:
            for match in pattern.finditer(text):
                yield match.start()
    if any(word in text for word in _FENCE_NAMES):
        for match in _FENCE_LINE.finditer(text):
            yield match.start()


def role_tags(raw: str, folded: str, *, markup: bool) -> Iterator[str]:
    """Chat-template tokens and role or instruction tags on one line (`markup` for XML and HTML
    files, where `<system>` may be a real element)."""
    for match in _CHAT_TOKENS.finditer(folded):
        yield match.group(0)
    if "[" in raw:
        for match in _INST.finditer(raw):
            yield match.group(0)
        bracket = _BRACKET_TAG.search(folded)
        if bracket is not None:
            yield bracket.group(0).strip()
    if "<" in folded:
        for match in _TAG.finditer(folded):
            name = match.group(1)
            if _ROLE_NAME.search(name) or (not markup and name in _ROLE_WORD):
                yield match.group(0)


# --- fences and forged headers -------------------------------------------------------------------

_FENCE_WORDS = (
    r"(?:end|begin|start|stop|close|open)?[\s_-]*(?:of[\s_-]*)?(?:the[\s_-]*)?(?:submission"
    r"|untrusted|candidate|user[\s_-]*(?:input|data|content)|student[\s_-]*code|input|data"
    r"|document|fence|system|instructions?|prompt|context|code)"
)
_FENCES = re.compile(
    r"<{3,}\s*/?\s*" + _FENCE_WORDS + r"[^<>\n]{0,60}>{3,}"
    r"|<{2,}\s*/?\s*(?:end|begin)[\s_-]*" + _FENCE_WORDS + r"[^<>\n]{0,60}>{2,}"
    r"|>{3,}\s*(?:end|begin)[\s_-]*" + _FENCE_WORDS + r"[^<>\n]{0,40}<{3,}"
    r"|(?:end|begin)[\s_-]*submission[\s_-]*[0-9a-f]{6,}"
    r"|</?(?:submission|untrusted[\w-]*|candidate[\w-]*|user[_-]input|student[_-]submission"
    r"|code[_-]submission)\s*>"
    r"|^\s*(?:#+|//+|/\*+|<!--|--|;+|\*+)?\s*(?:[-=#*~_<>]{3,}|\[|\()\s*(?:end|begin|start|close)"
    r"\s*(?:of\s*)?(?:the\s*)?(?:submission"
    r"|untrusted|candidate|user\s*input|student\s*code|code\s*submission|fence"
    r"|(?:user|untrusted)\s*data)\b"
    r"|^\s*={3}\s*file\s+\S.*\((?:added|modified|removed|renamed|changed|copied)\)\s*={3}\s*$"
)


def fences(folded: str) -> Iterator[str]:
    """Markers imitating the fence around the submission, or the prompt's file headers."""
    if "<" in folded or ">" in folded or "=" in folded or "-" in folded or "[" in folded:
        for match in _FENCES.finditer(folded):
            yield match.group(0).strip()


# --- answer-shaped JSON and rubric tables --------------------------------------------------------

_SCORE_KEY = re.compile(
    r"[\"'](?:score|scores|grade|points|marks|rating|total[_ ]?score|final[_ ]?score"
    r"|overall[_ ]?score|final[_ ]?grade|total)[\"']\s*:\s*([^,}\]\n]{0,40})"
)
_GRADING_KEY = re.compile(
    r"[\"'](?:rationale|criteria|criterion|evidence|verdict|feedback|rubric|summary|findings"
    r"|justification|assessment|evaluation|max[_ ]?score|max[_ ]?points|out[_ ]?of)[\"']\s*:"
)
_FULL_VALUE = re.compile(
    r"^[\s\"']*(?:(\d+)\s*/\s*\1|100\s*%|a\+|full[ _]marks|perfect|excellent|max(?:imum)?)(?!\w)"
)
_NEAR = 6


def score_objects(text: str, starts: Sequence[int]) -> dict[int, str]:
    """Lines (indexes; `starts` are the offsets where lines begin in `text`) holding a score key
    of an answer-shaped object: `"score"` beside `"rationale"`, `"criteria"` … within a few
    lines, or a score key whose value is full marks."""
    if '"' not in text and "'" not in text:
        return {}
    grading = [bisect.bisect_right(starts, m.start()) - 1 for m in _GRADING_KEY.finditer(text)]
    found: dict[int, str] = {}
    for match in _SCORE_KEY.finditer(text):
        index = bisect.bisect_right(starts, match.start()) - 1
        near = any(abs(index - g) <= _NEAR for g in grading)
        if near or _FULL_VALUE.match(match.group(1)):
            found.setdefault(index, match.group(0).strip())
    return found


_TABLE_ROW = re.compile(r"^\s*\|.*\|")
_CELL_FULL = re.compile(
    r"\|\s*(?:\*\*)?\s*(?:(\d+(?:\.\d+)?)\s*/\s*\1|100\s*%|a\+|full marks)\s*(?:\*\*)?\s*(?=\|)"
)


def table_rows(folded: Sequence[str]) -> Iterator[tuple[int, range]]:
    """Rows of markdown tables that award full marks, each with its table's line range (the
    caller checks that the table is about marks)."""
    if not any(_CELL_FULL.search(line) for line in folded if "|" in line):
        return
    index = 0
    while index < len(folded):
        if not _TABLE_ROW.match(folded[index]):
            index += 1
            continue
        end = index
        while end < len(folded) and _TABLE_ROW.match(folded[end]):
            end += 1
        table = range(index, end)
        for row in table:
            if _CELL_FULL.search(folded[row]):
                yield row, table
        index = end
