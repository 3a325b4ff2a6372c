"""Text hidden in encodings: what a line says once base64, base32, hex, binary, character codes,
`\\uXXXX`/`\\xXX` escapes, HTML entities or URL encoding are undone.

Decoding is only tried where a line holds something that looks encoded, and a result counts
only when it reads as text (printable, with letters and a space or a run of CJK letters), so
hashes, keys and ordinary long identifiers cost one regular-expression search and decode to
nothing.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import urllib.parse
from collections.abc import Iterator

_MIN_TEXT = 8  # decoded characters: shorter results hold no phrase
# Where something may be encoded, each looked for only in text holding its mark: a long run of
# base64's alphabet with a digit or +/ in it (long identifiers have none), an escape, an entity,
# a percent sign, a list of numbers, bits, or hex bytes.
_ENCODED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("", re.compile(r"(?<![\w+/-])(?=[A-Za-z0-9+/_-]{16})[A-Za-z_-]*[0-9+/][\w+/=-]*")),
    ("\\", re.compile(r"\\(?:[uUx]|[0-7]{3})")),
    ("&", re.compile(r"&#?\w{2,8};")),
    ("%", re.compile(r"%[0-9A-Fa-f]{2}")),
    (",", re.compile(r"\d{2,6} *, *\d{2,6} *, *\d{2,6}")),
    ("0x", re.compile(r"0x[0-9A-Fa-f]{2}[\s,;:]+0x")),
    ("0", re.compile(r"[01]{8}")),
    (" ", re.compile(r"\b[0-9A-Fa-f]{2}(?:[ :-][0-9A-Fa-f]{2}){7}\b")),
)


def encoded(text: str) -> Iterator[int]:
    """Offsets in `text` where something may be encoded."""
    for mark, pattern in _ENCODED:
        if mark in text:
            for match in pattern.finditer(text):
                yield match.start()


_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{16,}={0,2}")
_BASE32 = re.compile(r"(?<![A-Za-z0-9])[A-Z2-7]{16,}={0,6}(?![A-Za-z0-9])")
_HEX = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])"
    r"|(?:(?:0x|\\x)?[0-9A-Fa-f]{2}[\s,:;-]*){8,}"
)
_ESCAPES = re.compile(
    r"\\u\{[0-9A-Fa-f]{1,6}\}|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}|(?:\\x[0-9A-Fa-f]{2})+|\\[0-7]{3}"
)
_ENTITY = re.compile(r"&#?\w{2,8};")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_CODES = re.compile(r"(?:\b\d{2,6}\s*,\s*){5,}\d{2,6}\b")
_BINARY = re.compile(r"(?:[01]{8}[\s,]*){4,}")


def readable(text: str) -> bool:
    """Whether decoded text reads as text rather than as bytes."""
    if len(text) < _MIN_TEXT or (
        not text.isprintable() and not all(c.isprintable() or c in "\n\t\r" for c in text)
    ):
        return False
    letters = sum(c.isalpha() for c in text)
    return letters >= len(text) * 0.5 and (
        " " in text or any("\u3040" <= c <= "\u9fff" for c in text)
    )


_ENCODED_AGAIN = re.compile(r"[0-9A-Fa-f]{16,}|[A-Za-z0-9+/=_-]{16,}|(?:[01]{8}\s?){4,}")


def _utf8(data: bytes) -> str | None:
    """Decoded bytes that read as text, or that are themselves encoded (base64 of hex)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if readable(text) or _ENCODED_AGAIN.fullmatch(text.strip()):
        return text
    return None


def _base64(blob: str) -> str | None:
    if not any(c.isdigit() or c in "+/=" for c in blob):
        return None  # long identifiers are base64's alphabet too; encoded text holds digits
    padded = blob + "=" * (-len(blob) % 4)
    try:
        data = base64.b64decode(padded, altchars=b"-_" if ("-" in blob or "_" in blob) else None)
    except (binascii.Error, ValueError):
        return None
    return _utf8(data)


def _hex(blob: str) -> str | None:
    digits = re.sub(r"0x|\\x|[\s,:;-]", "", blob)
    if len(digits) % 2:
        return None
    try:
        return _utf8(bytes.fromhex(digits))
    except ValueError:
        return None


def _escape(match: re.Match[str]) -> str:
    token = match.group(0)
    if token.startswith("\\x"):
        data = bytes(int(token[i + 2 : i + 4], 16) for i in range(0, len(token), 4))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    if token.startswith("\\u{"):
        return chr(min(int(token[3:-1], 16), 0x10FFFF))
    if token[1] in "uU":
        return chr(min(int(token[2:], 16), 0x10FFFF))
    return chr(int(token[1:], 8))


def _codes(blob: str) -> str | None:
    values = [int(v) for v in re.findall(r"\d+", blob)]
    if any(v > 0x10FFFF for v in values):
        return None
    text = "".join(map(chr, values))
    return text if readable(text) else None


def _binary(blob: str) -> str | None:
    bits = re.findall(r"[01]{8}", blob)
    return _utf8(bytes(int(b, 2) for b in bits))


def decodings(line: str) -> Iterator[tuple[str, str]]:
    """(encoding, decoded text) for each encoded part of a raw line that decodes to text; each
    decoder runs only where its mark is (a long base64-like run, `\\`, `&`, `%`, `,`, bits)."""
    if _ENCODED[0][1].search(line):
        for match in _BASE64.finditer(line):
            if (text := _base64(match.group(0))) is not None:
                yield "base64", text
        for match in _BASE32.finditer(line):
            if (text := _base32(match.group(0))) is not None:
                yield "base32", text
    if _HEX_HINT.search(line):
        for match in _HEX.finditer(line):
            if (text := _hex(match.group(0))) is not None:
                yield "hex", text
    if "\\" in line and len(_ESCAPES.findall(line)) >= 3:
        yield "escapes", _ESCAPES.sub(_escape, line)
    if "&" in line and len(_ENTITY.findall(line)) >= 3:
        yield "HTML entities", html.unescape(line)
    if "%" in line and len(_PERCENT.findall(line)) >= 3:
        yield "URL encoding", urllib.parse.unquote(line.replace("+", " "))
    if "," in line:
        for match in _CODES.finditer(line):
            if (text := _codes(match.group(0))) is not None:
                yield "character codes", text
    if "0" in line and "1" in line:
        for match in _BINARY.finditer(line):
            if (text := _binary(match.group(0))) is not None:
                yield "binary", text


def _base32(blob: str) -> str | None:
    try:
        data = base64.b32decode(blob + "=" * (-len(blob) % 8))
    except (binascii.Error, ValueError):
        return None
    return _utf8(data)


# Sixteen hex digits in a row, or eight hex bytes apart (spaces, commas, 0x, \x).
_HEX_HINT = re.compile(r"[0-9A-Fa-f]{16}|(?:(?:0x|\\x)?[0-9A-Fa-f]{2}[\s,:;-]*){8}")
