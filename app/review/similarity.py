"""Code fingerprints the way MOSS makes them: winnowing over normalised tokens. Pure.

A file is tokenised by Pygments' lexer for its name, then normalised so that a disguise does not
change it: identifiers become `V`, numbers `0`, strings `S` (a string's pieces are one token),
comments, docstrings and whitespace vanish; keywords, operators, punctuation and builtins stay.
Only tokens on lines the submission added count, so starter code never matches; k-grams of the
remaining tokens are hashed and winnowed (Schleimer, Wilkerson and Aiken, SIGMOD 2003): in every
window of `w` consecutive hashes the smallest is kept, which guarantees that any common run of
`w + k - 1` tokens shares at least one fingerprint while keeping only about 2/(w+1) of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import (
    Comment,
    Keyword,
    Literal,
    Name,
    Operator,
    Punctuation,
    String,
    _TokenType,
    is_token_subtype,
)
from pygments.util import ClassNotFound

from app.review.assignment import _path_matches
from app.review.models import Submission

# k = 15 normalised tokens is two or three statements: short enough to survive reordered
# functions and edits between statements, long enough that independent solutions of one brief
# rarely share a k-gram by chance (tests/review/test_similarity.py measures both). w = 10 keeps
# about 18 % of the k-grams and still catches every common run of 24 tokens (about 3 lines).
K = 15
W = 10
MAX_FILE_BYTES = 1_000_000  # generated or vendored blobs are not anyone's work

_SIGN = 1 << 63


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One winnowed k-gram hash (a signed 64-bit integer, as the ledger stores it), where it is."""

    hash: int
    path: str
    start_line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    line: int


def _lexer(path: str) -> Lexer | None:
    try:
        return get_lexer_for_filename(path, stripnl=False, stripall=False, ensurenl=True)
    except ClassNotFound:
        return None


def _is(kind: _TokenType, parent: _TokenType) -> bool:
    return is_token_subtype(kind, parent)


def _normal(kind: _TokenType, value: str) -> str | None:
    """The token as the fingerprint sees it, or None when it does not count."""
    if _is(kind, Comment) and not _is(kind, Comment.Preproc):
        return None
    if _is(kind, String.Doc):
        return None
    if _is(kind, String):
        return "S"
    if _is(kind, Literal.Number):
        return "0"
    if _is(kind, Literal):
        return "S"
    if _is(kind, Name.Builtin):  # print, len, self: renaming cannot touch them
        return value
    if _is(kind, Name):
        return "V"
    if any(_is(kind, t) for t in (Keyword, Operator, Punctuation, Comment.Preproc)):
        return value.strip() or None
    return None  # whitespace, text, markup


def tokens(path: str, text: str) -> list[_Token]:
    """The normalised tokens of a file, each with its (1-based, git's) line; [] without a lexer."""
    lexer = _lexer(path)
    if lexer is None:
        return []
    # Git breaks lines at \n only; Pygments would also break at a lone \r.
    text = text.replace("\r\n", "\n").replace("\r", " ")
    out: list[_Token] = []
    line = 1
    for kind, value in lexer.get_tokens(text):
        normal = _normal(kind, value)
        if normal is not None:
            if normal == "S" and out and out[-1].text == "S" and _is(kind, String):
                pass  # one string, lexed in pieces (quotes, escapes, interpolation)
            else:
                first = line + len(value) - len(value.lstrip("\n"))
                out.append(_Token(normal, first))
        line += value.count("\n")
    return out


def _hash(gram: Sequence[_Token]) -> int:
    digest = hashlib.blake2b("\x1f".join(t.text for t in gram).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") - _SIGN  # signed 64-bit, as BigInteger stores it


def winnow(hashes: Sequence[int], w: int = W) -> list[int]:
    """Indexes of the hashes winnowing keeps: each window's minimum (the rightmost on ties),
    each position once."""
    if not hashes:
        return []
    if len(hashes) <= w:
        return [min(range(len(hashes)), key=lambda i: (hashes[i], -i))]
    chosen: list[int] = []
    for start in range(len(hashes) - w + 1):
        window = range(start, start + w)
        best = min(window, key=lambda i: (hashes[i], -i))
        if not chosen or chosen[-1] != best:
            chosen.append(best)
    return chosen


def fingerprint_file(
    path: str,
    text: str,
    added_lines: Iterable[int] | None = None,
    *,
    exclude: frozenset[int] = frozenset(),
    k: int = K,
    w: int = W,
) -> list[Fingerprint]:
    """The fingerprints of the submission's own code in one file.

    `added_lines` are the lines the submission added (None: the whole file is theirs);
    `exclude` holds hashes to drop, e.g. `fingerprint_text` of the brief's snippets or of starter
    files copied into a new path."""
    if len(text) > MAX_FILE_BYTES:
        return []
    toks = tokens(path, text)
    if added_lines is not None:
        own = frozenset(added_lines)
        toks = [t for t in toks if t.line in own]
    if len(toks) < k:
        return []
    grams = [toks[i : i + k] for i in range(len(toks) - k + 1)]
    hashes = [_hash(g) for g in grams]
    prints = (
        Fingerprint(hashes[i], path, grams[i][0].line, grams[i][-1].line) for i in winnow(hashes, w)
    )
    return [p for p in prints if p.hash not in exclude]


def fingerprint_text(path: str, text: str, *, k: int = K) -> frozenset[int]:
    """Every k-gram hash of a text (not winnowed): what to subtract when it is not the
    candidate's work (the brief's snippets, starter files), whatever window a copy falls in."""
    toks = tokens(path, text)
    return frozenset(_hash(toks[i : i + k]) for i in range(len(toks) - k + 1))


def is_boilerplate(path: str, globs: Sequence[str]) -> bool:
    """Gitignore-style globs, as the assignment config's `files` patterns match."""
    return any(_path_matches(g, path) for g in globs)


def fingerprint_files(
    files: Mapping[str, tuple[str, Iterable[int] | None]],
    *,
    boilerplate: Sequence[str] = (),
    exclude: frozenset[int] = frozenset(),
) -> list[Fingerprint]:
    """Fingerprints of several files: path -> (new content, added lines or None)."""
    return [
        fp
        for path, (text, added) in sorted(files.items())
        if not is_boilerplate(path, boilerplate)
        for fp in fingerprint_file(path, text, added, exclude=exclude)
    ]


def fingerprint_submission(
    submission: Submission,
    *,
    boilerplate: Sequence[str] = (),
    exclude: frozenset[int] = frozenset(),
) -> list[Fingerprint]:
    """Fingerprints of a reviewed submission: each changed file's head content, counting only the
    lines its patch added (an added file is wholly the candidate's)."""
    files: dict[str, tuple[str, Iterable[int] | None]] = {}
    for changed in submission.change.files:
        data = submission.contents.get(changed.path)
        if changed.status == "removed" or data is None:
            continue
        added = None if changed.status == "added" else changed.changed_lines
        files[changed.path] = (data.decode("utf-8", "replace"), added)
    return fingerprint_files(files, boilerplate=boilerplate, exclude=exclude)
