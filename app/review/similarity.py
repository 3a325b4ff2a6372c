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

import functools
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


@functools.lru_cache(maxsize=1024)
def _lexer_class(name: str) -> type[Lexer] | None:
    try:
        return type(get_lexer_for_filename(name))
    except ClassNotFound:
        return None


def _lexer(path: str) -> Lexer | None:
    cls = _lexer_class(path.rsplit("/", 1)[-1])
    return None if cls is None else cls(stripnl=False, stripall=False, ensurenl=True)


@functools.cache
def _kind(kind: _TokenType) -> str:
    """How a token type counts: dropped (""), as `S`, `0` or `V`, or as itself ("=")."""
    if is_token_subtype(kind, Comment) and not is_token_subtype(kind, Comment.Preproc):
        return ""
    if is_token_subtype(kind, String.Doc):
        return ""
    if is_token_subtype(kind, Literal.Number):
        return "0"
    if is_token_subtype(kind, Literal):
        return "S"
    if is_token_subtype(kind, Name.Builtin):  # print, len, self: renaming cannot touch them
        return "="
    if is_token_subtype(kind, Name):
        return "V"
    if any(is_token_subtype(kind, t) for t in (Keyword, Operator, Punctuation, Comment.Preproc)):
        return "="
    return ""  # whitespace, text, markup


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
        how = _kind(kind)
        normal = (value.strip() or None) if how == "=" else (how or None)
        if normal is not None and not (normal == "S" and out and out[-1].text == "S"):
            # (a string lexed in pieces, quotes, escapes and interpolation, is one token)
            out.append(_Token(normal, line + len(value) - len(value.lstrip("\n"))))
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
