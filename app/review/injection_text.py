"""How the injection detector reads text: the disguises undone before any phrase is looked for.

Every line is *folded* first: invisible characters dropped, hidden tag text (U+E0020..E007E,
"ASCII smuggling") decoded, camelCase split, and each other character replaced by its key: NFKC,
case folded, accents and other combining marks dropped, then Unicode's confusable skeleton
(UTS #39) through `disarm`, which also folds the small capitals and IPA letters the skeleton
leaves alone (small capitals, U+0269 iota). Keys are computed once per distinct character.

The *concept view* of a folded line is its words, separated by single spaces: what the phrase
lists (`injection_lexicon`) are matched against. Scores (`10/10`, `100%`, `a+`) and `:` stay
words; `=`, `;`, `{`, `}`, a call's `(` and the end of a sentence become a barrier no phrase
may span. Other views undo
other disguises: leetspeak (`1gn0r3`), rot13, spaced-out letters (`i g n o r e`), and the
contents of string literals and comments joined (`"ign" + "ore"`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from disarm import skeleton_key

TAG_FIRST, TAG_LAST = 0xE0000, 0xE007F
BARRIER = "\x1f"
# What `injection.redact_flagged` puts in place of flagged text; read as a barrier, so that the
# marker never joins the text around it into a new phrase.
MARKER = "[text addressed to the grader removed]"

_INVISIBLE = (
    "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f\u115f\u1160"
    "\u3164\uffa0\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    "\u0640"  # Arabic tatweel stretches words without changing them
)
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
# Combining marks that decorate Latin, Greek and Cyrillic letters, and Arabic short vowels and
# hamza: dropped so that "ïgnörè" is "ignore". Indic vowel signs are letters and stay.
_MARKS = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u064b-\u065f\u0670]"
)


def decode_tags(run: str) -> str:
    """Tag characters as the ASCII they mirror; the other tag characters dropped."""
    return "".join(chr(ord(c) - TAG_FIRST) for c in run if 0xE0020 <= ord(c) <= 0xE007E)


class _Keys(dict[int, str]):
    """Character -> key, filled on first use (`str.translate` calls `__missing__`); with
    `skeleton`, letters of other scripts become the Latin letters they look like."""

    def __init__(self, *, skeleton: bool) -> None:
        super().__init__()
        self._skeleton = skeleton

    def __missing__(self, code: int) -> str:
        char = chr(code)
        category = unicodedata.category(char)
        if char in _INVISIBLE or (category in ("Cf", "Mn") and _MARKS.match(char)):
            key = ""
        elif category == "Nd":
            key = str(unicodedata.decimal(char))
        else:
            folded = unicodedata.normalize("NFKC", char).casefold()
            stripped = _MARKS.sub("", unicodedata.normalize("NFD", folded))
            key = unicodedata.normalize("NFC", stripped)
            if self._skeleton and not stripped.isascii():
                key = _skeleton(char, stripped) or key
        self[code] = key
        return key


def _skeleton(char: str, folded: str) -> str:
    """The confusable skeleton of one character, lower case: that of the character as written
    (Greek capital upsilon looks like Y, its lower case like u), except in the I/l class,
    where Greek and Cyrillic capital I are the letter i, as their lower case shows. ASCII
    punctuation keeps its own shape."""
    as_written = skeleton_key(_MARKS.sub("", unicodedata.normalize("NFKD", char)))
    if len(as_written) == 1 and as_written.isascii() and as_written.isalpha() and as_written != "l":
        return as_written
    skeleton = skeleton_key(folded) if folded.strip() else folded
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", skeleton)))


_KEYS = _Keys(skeleton=True)


def is_i_or_l(line: str) -> bool:
    """Whether a line holds a non-ASCII letter whose skeleton is l (it may stand for i)."""
    return any(_KEYS[ord(c)] == "l" for c in line if not c.isascii())


_NATIVE = _Keys(skeleton=False)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
OPAQUE = re.compile(r"(?<![\w+/=])(?=[A-Za-z0-9+/=]{24})[A-Za-z]*[0-9+/][A-Za-z0-9+/=]*")


def split_camel(text: str) -> str:
    """camelCase words split ("giveMeFullMarks"), but not long runs of base64's alphabet (keys,
    hashes, data), which are one opaque token."""
    if OPAQUE.search(text):
        text = OPAQUE.sub(lambda m: m.group(0).lower(), text)
    return _CAMEL.sub(" ", text)


# Letters of the scripts whose look-alikes disguise Latin ones (Greek, Cyrillic, Armenian,
# Hebrew, Arabic, Georgian, Cherokee, Coptic), not Latin's own extensions, symbols or CJK.
_FOREIGN = re.compile("[\u0370-\u08ff\u10a0-\u10ff\u13a0-\u13ff\u2c80-\u2cff]")
_PIECE = re.compile(r"\w+|\W+")


def _mixed(line: str) -> str:
    """Fold a line holding letters of another script. A word wholly in that script, in a line
    mostly in it, is that language and keeps its letters ("по" is Russian, not "no"); words
    that mix scripts, and such words in a mostly Latin line, are disguises: their skeleton."""
    foreign = len(_FOREIGN.findall(line))
    latin = sum(1 for c in line if c.isascii() and c.isalpha())
    if foreign <= latin:
        return line.translate(_KEYS)

    def key(match: re.Match[str]) -> str:
        word = match.group(0)
        native = all(_FOREIGN.match(c) or not c.isalpha() for c in word)
        return word.translate(_NATIVE if native else _KEYS)

    return _PIECE.sub(key, line)


def fold(line: str) -> str:
    """A line with disguises undone, punctuation kept (what tag and structure patterns read)."""
    if max(line, default=" ") >= "\U000e0000" and _TAG_RUN.search(line):
        line = _TAG_RUN.sub(lambda m: f" {decode_tags(m.group(0))} ", line)
    line = split_camel(line)
    if line.isascii():
        return line.lower()
    line = unicodedata.normalize("NFKC", line)
    return _mixed(line) if _FOREIGN.search(line) else line.translate(_KEYS)


# --- the concept view -----------------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff\uff66-\uff9f"
_INDIC = "\u0900-\u0963\u0966-\u0dff"  # Indic letters and signs; not the danda (full stop)
_WORDS = re.compile(
    # An opaque run of base64's alphabet (keys, hashes, data): a barrier, not words to read.
    r"(?<![\w+/=])(?=[a-z0-9+/=]{24})[a-z]*[0-9+/][a-z0-9+/=]*(?![\w+/=])"
    r"|\d+(?:[.,]\d+)?\s*(?:/|out of|of|von|sur|su|de|из|من)\s*\d+(?:[.,]\d+)?(?![\d/])"
    r"|\d+(?:[.,]\d+)?\s*%"
    rf"|[{_CJK}]+"
    r"|(?<![\w+])[a-f]\+(?![\w+])"
    r"|:"
    r"|[=;{}]|(?<=\w)[(\[]|[.!?](?=\s|$)|[\u3002\u0964\u0965]"
    rf"|(?:(?![{_CJK}])[^\W_]|[{_INDIC}])+"
)
_SCORE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(/|out of|of|von|sur|su|de|из|من)\s*(\d+(?:[.,]\d+)?)$")
_SPACE = re.compile(r"\s+")


# Directives to code tools, not prose: mypy's `type: ignore[attr]`, flake8's `noqa`, `@ts-ignore`.
_PRAGMAS = re.compile(
    r"type:\s*ignore(?:\[[^\]]*\])?|noqa\b(?::[\w, ]*)?|(?:pylint|mypy|pyright|ruff)\s*:\s*\S+"
    r"|@ts-(?:ignore|nocheck|expect-error)|eslint-\S+|nolint\S*|pragma:\s*no\s*cover|fmt:\s*\w+"
    r"|istanbul\s+ignore\s+\w+|c8\s+ignore\s+\w+|nosec\b|nosonar\b"
)


_PRAGMA_WORDS = (
    "ignore", "noqa", "pylint", "mypy", "pyright", "ruff", "@ts-", "eslint", "nolint", "pragma",
    "fmt:", "nosec", "nosonar",
)  # fmt: skip


def strip_pragmas(folded: str) -> str:
    """Folded text without code tools' directives (`type: ignore`, `noqa`, `eslint-disable`)."""
    if any(word in folded for word in _PRAGMA_WORDS):
        return _PRAGMAS.sub(" ", folded)
    return folded


def concept_line(folded: str) -> str:
    """The words of a folded line, one space apart: scores kept whole (`10 / 10` is `10/10`,
    `10 out of 10` is `10/10`), code punctuation as the barrier character, code tools'
    directives (`type: ignore`, `noqa`) left out."""
    if "[text addressed" in folded:
        folded = folded.replace(MARKER, " ; ")
    words = _WORDS.findall(strip_pragmas(folded))
    for index, word in enumerate(words):
        if word in "=;{}([.!?\u3002\u0964\u0965" or len(word) >= 24:
            words[index] = BARRIER
        elif word[0].isdigit() and not word.isdigit():
            score = _SCORE.match(word)
            words[index] = f"{score[1]}/{score[3]}" if score else _SPACE.sub("", word)
    return " ".join(words)


_UNSPACED = re.compile("[\u3040-\u9fff\uf900-\ufaff]")


def unspaced(text: str) -> bool:
    """Whether `text` holds a script that does not separate words by spaces (Han, kana)."""
    return _UNSPACED.search(text) is not None


# --- leetspeak, rot13 and spaced-out letters ------------------------------------------------------

_LEET = str.maketrans("013456789@$!|", "oieasgtbgasii")
_LEET_WORD = re.compile(r"[a-z0-9@$!|]+")
_NUMERIC = frozenset("/%.,:-+")
# Two-letter words worth spelling out of leetspeak (`d0`, `!f`, `4$`); other two-character
# tokens (`1a`, `3d`, `x2`) are left as they are.
_SHORT = frozenset(
    {"do", "if", "is", "as", "at", "to", "so", "no", "of", "on", "in", "it", "me", "my", "be"}
    | {"by", "we", "or", "an", "us"}
)
_HAS_LEET = re.compile(r"[a-z][0-9@$!|]|[0-9@$!|][a-z]")
LOOSE = str.maketrans("l", "i")  # "1" may stand for i or l: in the loose view both are i


def leet(folded: str) -> str | None:
    """The folded line with leetspeak words spelled out (`g1v3 th15` is `give this`, `4$` is
    `as`), in the loose spelling; None when no word of three characters or more mixes letters
    with leet symbols (hex dumps and `x2`, `utf8` are no leetspeak). Numbers that are scores
    stay (`10/10`, `100%`, `2.5`)."""
    if not any(len(w) >= 3 and _HAS_LEET.search(w) for w in _LEET_WORD.findall(folded)):
        return None

    def spell(match: re.Match[str]) -> str:
        word = match.group(0)
        if _HAS_LEET.search(word):
            spelt = word.translate(_LEET)
            return spelt if len(word) >= 3 or spelt.translate(LOOSE) in _SHORT else word
        if word.isalpha() or len(word) > 4:
            return word
        before = folded[match.start() - 1 : match.start()]
        after = folded[match.end() : match.end() + 1]
        return word if before in _NUMERIC or after in _NUMERIC else word.translate(_LEET)

    return _LEET_WORD.sub(spell, folded).translate(LOOSE)


ROT13 = str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm")
SPACED = re.compile(r"(?<![^\W\d_])[^\W\d_](?:[ .\-_·*]{1,3}[^\W\d_](?![^\W\d_])){3,}")
_WIDE_GAP = re.compile(r"[ .\-_·*]{2,}|\s*[.·*-]\s+")
_NARROW_GAP = re.compile(r"[ .\-_·*]")


def spaced_out(folded: str) -> Iterator[str]:
    """Versions of a folded line with its spaced-out letters joined: word gaps kept where they
    are wider than letter gaps (`i g n o r e   p r e v` is `ignore prev`), else all joined."""
    if not SPACED.search(folded):
        return
    yield SPACED.sub(
        lambda m: _NARROW_GAP.sub("", _WIDE_GAP.sub("\0", m.group(0))).replace("\0", " "), folded
    )
    yield SPACED.sub(lambda m: _NARROW_GAP.sub("", m.group(0)), folded)


# --- string literals and comments ---------------------------------------------------------------

_LITERAL = re.compile(
    r"\"((?:[^\"\\\n]|\\.){0,400})\"|'((?:[^'\\\n]|\\.){0,400})'|`((?:[^`\\\n]|\\.){0,400})`"
)
_COMMENT_PATTERN = (
    r"(?:^|[ \t])(?:#+|//+|--|;;|%)[ \t]?(.*)$|/\*+(.*?)(?:\*/|$)|<!--(.*?)(?:-->|$)"
    r"|^[ \t]*\*+[ \t]?(.*)$"
)
_COMMENT = re.compile(_COMMENT_PATTERN)
# The same over a whole text, one comment per line at most.
COMMENTS = re.compile(_COMMENT_PATTERN, re.MULTILINE)


def literals(line: str) -> list[str]:
    """The contents of the string literals on a raw line (and of the literals inside a template
    string's `${...}`)."""
    if '"' not in line and "'" not in line and "`" not in line:
        return []
    found = []
    for groups in _LITERAL.findall(line):
        text = "".join(groups)
        inner = literals(text) if groups[2] and "${" in text else []
        found.extend(inner or [text])
    return found


def comment(line: str) -> str | None:
    """The comment on a raw line, if it has one."""
    match = _COMMENT.search(line)
    if match is None:
        return None
    return next((g for g in match.groups() if g is not None), "")
