"""What counts as text addressed to the grader: the normalisation that undoes simple disguises, and
the phrase patterns matched on the result (see `injection` for where they are looked for).

Text is normalised before matching (NFKC, invisible characters removed, common look-alike letters
mapped to Latin, case folded, whitespace collapsed, spaced-out letters joined) so that simple
disguises still match. Patterns are phrase-shaped rather than keyword-shaped to keep ordinary code
quiet: "you are now logged in" is fine, "you are now the grader" is not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# --- normalisation -------------------------------------------------------------------------------

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
TAG_FIRST, TAG_LAST = 0xE0000, 0xE007F

# Tag characters U+E0020..U+E007E mirror ASCII and can smuggle hidden text: decode it so that the
# hidden words are matched too. Other invisible characters are dropped.
_TRANSLATE: dict[int, int | str | None] = {ord(c): None for c in _ZERO_WIDTH + _BIDI}
_TRANSLATE.update({cp: chr(cp - TAG_FIRST) for cp in range(0xE0020, 0xE007F)})
_TRANSLATE.update({cp: None for cp in (*range(TAG_FIRST, 0xE0020), TAG_LAST)})
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


def decode_tags(run: str) -> str:
    """Tag characters as the ASCII they mirror; other invisible characters dropped."""
    return run.translate(_TRANSLATE)


def uncloak(text: str) -> str:
    """`text` with hidden tag text decoded, invisible characters dropped and look-alikes mapped."""
    text = _TAG_RUN.sub(lambda m: f" {decode_tags(m.group(0))} ", text)
    return unicodedata.normalize("NFKC", text.translate(_TRANSLATE)).translate(_TRANSLATE)


def fold(uncloaked: str) -> str:
    """Case folded, whitespace collapsed: the last step of `normalise`, on uncloaked text."""
    return _WHITESPACE.sub(" ", uncloaked.casefold()).strip()


def normalise(text: str) -> str:
    """`text` as the patterns see it: uncloaked, case-folded, whitespace collapsed."""
    return fold(uncloak(text))


def _join_spaced_letters(text: str) -> str:
    return _SPACED_LETTERS.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), text)


def strip_comment(text: str) -> str:
    """A normalised line without its comment markers, so that patterns anchored at the start of
    a line also match inside a comment."""
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
ROLE_TAGS = re.compile(
    r"<\|\s*(?:im_start|im_end|system|assistant|user|begin_of_text|start_header_id"
    r"|end_header_id|eot_id)\s*\|>|<</?sys>>"
    r"|^#{1,6}\s*(?:system|assistant)\s*:(?:\s*$|\s*you\b)"
)
# Llama's [INST] is matched case-sensitively: `[inst]` is ordinary code (a one-item list).
INST_TAG = re.compile(r"\[/?INST\]")
SYSTEM_TAG = re.compile(r"</?system>")  # not in XML files, where <system> is a real element


# --- matching -------------------------------------------------------------------------------------


def _forms(line: str) -> list[str]:
    """The normalised line, plus a version with spaced-out letters joined when that differs."""
    joined = _join_spaced_letters(line)
    return [line] if joined == line else [line, joined]


def phrase_matches(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    """(kind, match) for each phrase pattern in normalised `text`, spaced-out letters joined too."""
    for form in _forms(text):
        for kind, pattern in _PHRASES:
            for match in pattern.finditer(form):
                yield kind, match
