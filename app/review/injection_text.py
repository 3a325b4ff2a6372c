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
    """Character -> key, filled on first use (`str.translate` calls `__missing__`)."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _INVISIBLE or (
            unicodedata.category(char) in ("Cf", "Mn") and _MARKS.match(char)
        ):
            key = ""
        elif unicodedata.category(char) == "Nd":
            key = str(unicodedata.decimal(char))
        else:
            folded = unicodedata.normalize("NFKC", char).casefold()
            stripped = _MARKS.sub("", unicodedata.normalize("NFD", folded))
            if stripped.isascii():
                key = stripped
            else:
                # `skeleton_key` folds case after its confusable fold, so it sees case-folded
                # text (else Greek capital iota would become "l"); ASCII punctuation keeps its
                # own shape.
                skeleton = skeleton_key(stripped) if stripped.strip() else stripped
                key = _MARKS.sub("", unicodedata.normalize("NFD", skeleton))
                key = unicodedata.normalize("NFC", key) or stripped
        self[code] = key
        return key


_KEYS = _Keys()
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def fold(line: str) -> str:
    """A line with disguises undone, punctuation kept (what tag and structure patterns read)."""
    if max(line, default=" ") >= "\U000e0000" and _TAG_RUN.search(line):
        line = _TAG_RUN.sub(lambda m: f" {decode_tags(m.group(0))} ", line)
    line = _CAMEL.sub(" ", line)
    if line.isascii():
        return line.lower()
    return unicodedata.normalize("NFKC", line).translate(_KEYS)


# --- the concept view -----------------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u31f0-\u31ff\uff66-\uff9f"
_INDIC = "\u0900-\u0dff"
_WORDS = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:/|out of|of|von|sur|su|de|из|من)\s*\d+(?:[.,]\d+)?(?![\d/])"
    r"|\d+(?:[.,]\d+)?\s*%"
    rf"|[{_CJK}]+"
    r"|(?<![\w+])[a-f]\+(?![\w+])"
    r"|:"
    r"|[=;{}]|(?<=\w)[(\[]|[.!?](?=\s|$)|\u3002"
    rf"|(?:(?![{_CJK}])[^\W_]|[{_INDIC}])+"
)
_SCORE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(/|out of|of|von|sur|su|de|из|من)\s*(\d+(?:[.,]\d+)?)$")
_SPACE = re.compile(r"\s+")


def concept_line(folded: str) -> str:
    """The words of a folded line, one space apart: scores kept whole (`10 / 10` is `10/10`,
    `10 out of 10` is `10/10`), code punctuation as the barrier character."""
    words = _WORDS.findall(folded)
    for index, word in enumerate(words):
        if word in "=;{}([.!?\u3002":
            words[index] = BARRIER
        elif word[0].isdigit() and not word.isdigit():
            score = _SCORE.match(word)
            words[index] = f"{score[1]}/{score[3]}" if score else _SPACE.sub("", word)
    return " ".join(words)


def unspaced(text: str) -> bool:
    """Whether `text` is written in a script that does not separate words by spaces."""
    return any("\u3040" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in text)


# --- leetspeak, rot13 and spaced-out letters ------------------------------------------------------

_LEET = str.maketrans("013457@$!|", "oieastasii")
_LEET_WORD = re.compile(r"[a-z0-9@$!|]*[a-z][a-z0-9@$!|]*")
_HAS_LEET = re.compile(r"[a-z][0-9@$!|]|[0-9@$!|][a-z]")
LOOSE = str.maketrans("l", "i")  # "1" may stand for i or l: in the loose view both are i


def leet(folded: str) -> str | None:
    """The folded line with leetspeak words spelled out (`g1v3 th15` is `give this`, `10/10`
    stays), in the loose spelling; None when no word mixes letters with leet symbols."""
    if not _HAS_LEET.search(folded):
        return None

    def spell(match: re.Match[str]) -> str:
        word = match.group(0)
        return word.translate(_LEET) if _HAS_LEET.search(word) else word

    return _LEET_WORD.sub(spell, folded).translate(LOOSE)


ROT13 = str.maketrans("abcdefghijklmnopqrstuvwxyz", "nopqrstuvwxyzabcdefghijklm")
_SPACED = re.compile(r"(?<![^\W\d_])[^\W\d_](?:[ .\-_·*]{1,3}[^\W\d_](?![^\W\d_])){3,}")
_WIDE_GAP = re.compile(r"[ .\-_·*]{2,}|\s*[.·*-]\s+")
_NARROW_GAP = re.compile(r"[ .\-_·*]")


def spaced_out(folded: str) -> Iterator[str]:
    """Versions of a folded line with its spaced-out letters joined: word gaps kept where they
    are wider than letter gaps (`i g n o r e   p r e v` is `ignore prev`), else all joined."""
    if not _SPACED.search(folded):
        return
    yield _SPACED.sub(
        lambda m: _NARROW_GAP.sub("", _WIDE_GAP.sub("\0", m.group(0))).replace("\0", " "), folded
    )
    yield _SPACED.sub(lambda m: _NARROW_GAP.sub("", m.group(0)), folded)


# --- string literals and comments ---------------------------------------------------------------

_LITERAL = re.compile(
    r"\"((?:[^\"\\\n]|\\.){1,400})\"|'((?:[^'\\\n]|\\.){1,400})'|`((?:[^`\\\n]|\\.){1,400})`"
)
_COMMENT = re.compile(
    r"(?:^|\s)(?:#+|//+|--|;;|%)\s?(.*)$|/\*+(.*?)(?:\*/|$)|<!--(.*?)(?:-->|$)|^\s*\*+\s?(.*)$"
)


def literals(line: str) -> list[str]:
    """The contents of the string literals on a raw line."""
    if '"' not in line and "'" not in line and "`" not in line:
        return []
    return ["".join(groups) for groups in _LITERAL.findall(line)]


def comment(line: str) -> str | None:
    """The comment on a raw line, if it has one."""
    match = _COMMENT.search(line)
    if match is None:
        return None
    return next((g for g in match.groups() if g is not None), "")
