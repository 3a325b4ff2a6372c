"""The secret masking of commit eaf8f4b, kept verbatim as the baseline of `python -m bench secrets`
(detection rates and masking throughput are measured against it in the same run)."""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["SecretHit", "find_secrets", "mask_secrets", "may_hold_secret", "shannon_entropy"]


@dataclass(frozen=True, slots=True)
class SecretHit:
    """One secret: its 1-based line, its kind and its [start, end) offsets in the text."""

    line: int
    kind: str
    span: tuple[int, int]


# (kind, pattern). Lookarounds instead of \b so that `-` and `_` inside tokens don't end a match.
_B = r"(?<![A-Za-z0-9_-])"  # token start boundary
_E = r"(?![A-Za-z0-9_-])"  # token end boundary
_PREFIXED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-token", re.compile(_B + r"gh[pousr]_[A-Za-z0-9]{36,255}" + _E)),
    ("github-token", re.compile(_B + r"github_pat_[A-Za-z0-9_]{22,255}" + _E)),
    ("anthropic-key", re.compile(_B + r"sk-ant-[A-Za-z0-9_-]{20,}" + _E)),
    ("openai-key", re.compile(_B + r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}" + _E)),
    ("openai-key", re.compile(_B + r"sk-[A-Za-z0-9]{20,}" + _E)),
    ("aws-access-key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("slack-token", re.compile(_B + r"xox[abposr]-[A-Za-z0-9-]{10,}" + _E)),
    ("stripe-key", re.compile(_B + r"(?:sk|rk)_live_[A-Za-z0-9]{16,}" + _E)),
    ("google-api-key", re.compile(_B + r"AIza[A-Za-z0-9_-]{35}" + _E)),
    (
        "jwt",
        re.compile(_B + r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*" + _E),
    ),
)

# A password inside a connection URL: `postgres://admin:Sup3rS3cret!@db.internal/app`. Only the
# password is the secret; placeholders ("password", "${DB_PASSWORD}", "xxx") are left alone.
_URL_CREDENTIALS = re.compile(
    r"[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"]{1,64}:(?P<value>[^\s/@'\"]{4,128})@[\w.-]"
)
_URL_PLACEHOLDERS = ("password", "passwd", "secret", "changeme", "example", "xxx", "***", "<", "$")

# A PEM private key's BEGIN line; its END line (same type) is then looked up with str.find, which
# stays fast even on text made of thousands of BEGIN lines.
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY((?: BLOCK)?)-----")
_PEM_MAX_BODY = 16_384  # an 8192-bit RSA key is about 6.5 KB
# A truncated one: the BEGIN line followed by base64 body lines, but no END.
_PEM_OPEN = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:(?:\s|\\[nr]|[\"'+,])+(?:[A-Za-z-]+: [^\n]*\n)*[A-Za-z0-9+/=]{16,})+"
)
_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/]")

# Names start and end at token boundaries and are bounded, keeping matching linear on long blobs.
_SECRET_NAME = (
    r"(?<![A-Za-z0-9_.-])[A-Za-z0-9_.-]{0,64}"
    r"(?:password|passwd|secret|token|api_?key|api-key|apikey)[A-Za-z0-9_.-]{0,64}"
    r"(?![A-Za-z0-9_.-])"
)
# name ["'] [: type] (= | := | => | :) [prefix] "value"
_ASSIGNED_QUOTED = re.compile(
    r"(?P<name>" + _SECRET_NAME + r")[\"']?\s*"
    r"(?::\s*[A-Za-z_][\w.\[\],]*(?:\s*\|\s*[\w.\[\],]+)*\s*)?"
    r"(?:=|:=|=>|:)\s*"
    r"(?:[rRbBuUfF]{1,2})?(?P<q>[\"'`])(?P<value>[^\"'`\s\\]{1,512})(?P=q)",
    re.I,
)
# .env / YAML style `NAME=value` at line start, unquoted.
_ASSIGNED_BARE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?(?P<name>" + _SECRET_NAME + r")[ \t]*[=:][ \t]*"
    r"(?P<value>[^\s\"'`#$%{}()<>;,\[\]]{1,512})[ \t]*(?:#.*)?$",
    re.I | re.M,
)
_MIN_ASSIGNED_LEN = 12
_PLACEHOLDER_WORDS = (
    "changeme", "change_me", "change-me", "example", "sample", "dummy", "placeholder", "your",
    "xxx", "***", "...", "redacted", "masked", "todo", "fixme", "fake", "test", "password",
    "passwd", "secret", "token", "insert", "replace", "enter",
)  # fmt: skip
_ENV_LOOKUP = re.compile(r"^(?:\$|%|\{\{|<)|\$\{|os\.environ|getenv|process\.env", re.I)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_DIGIT = re.compile(r"\d")
_NEWLINE = re.compile("\n")

# Every pattern above needs one of these in the text once it is case-folded: the PEM label, the
# case-sensitive prefixes (folded), and the secret-looking names the `re.I` patterns look for.
# Most text holds none, and is then spared the patterns (`_ASSIGNED_QUOTED` alone backtracks at
# every position). A test checks every pattern against this list.
NEEDED = (
    "private key", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-", "_live_",
    "akia", "asia", "abia", "acca", "xox", "aiza", "eyj",
    "passw", "secret", "token", "apikey", "api_key", "api-key", "://",
)  # fmt: skip
# Characters that `re.I` matches to an ASCII letter but case folding does not turn into it.
_RE_I_LETTERS = str.maketrans({"\u0130": "i", "\u0131": "i"})


def may_hold_secret(text: str) -> bool:
    """False when `text` cannot hold a secret that `find_secrets` finds."""
    folded = text.lower() if text.isascii() else text.translate(_RE_I_LETTERS).casefold()
    return any(word in folded for word in NEEDED)


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`: random keys score high, words and identifiers low."""
    if not value:
        return 0.0
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in Counter(value).values())


def _looks_random(value: str) -> bool:
    """True for values that look like generated secrets rather than names, words or placeholders.

    The threshold grows with length up to 3.5 bits/char, since a short string cannot reach the
    entropy of a long one (12 random base62 chars ≈ 3.4, a 32-char hex key ≈ 3.8).
    """
    if len(value) < _MIN_ASSIGNED_LEN:
        return False
    lowered = value.casefold()
    if any(word in lowered for word in _PLACEHOLDER_WORDS) or _ENV_LOOKUP.search(value):
        return False
    if "://" in value and "@" not in value:  # a URL, unless it carries credentials
        return False
    if _IDENTIFIER.match(value) and not _DIGIT.search(value):  # a name, e.g. DJANGO_SECRET_KEY
        return False
    if len(set(lowered)) <= 2:  # "aaaaaaaaaaaa", "************"
        return False
    return shannon_entropy(value) >= min(3.5, math.log2(len(value)) - 0.5)


def _has_letter_and_digit(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _candidates(text: str) -> list[tuple[int, int, int, str]]:
    """All raw matches as (start, end, priority, kind); lower priority wins on overlap."""
    found: list[tuple[int, int, int, str]] = []
    for match in _PEM_BEGIN.finditer(text):
        end_marker = f"-----END {match.group(1)}PRIVATE KEY{match.group(2)}-----"
        end = text.find(end_marker, match.end(), match.end() + _PEM_MAX_BODY + len(end_marker))
        if end >= 0 and len(_BASE64_CHARS.findall(text, match.end(), end)) >= 32:
            found.append((match.start(), end + len(end_marker), 0, "private-key"))
    for match in _PEM_OPEN.finditer(text):
        found.append((match.start(), match.end(), 0, "private-key"))
    for kind, pattern in _PREFIXED:
        for match in pattern.finditer(text):
            token = match.group(0)
            # JWTs are base64url JSON and need no digit; every other key shape mixes both.
            if kind == "jwt" or _has_letter_and_digit(token):
                found.append((match.start(), match.end(), 1, kind))
    for match in _URL_CREDENTIALS.finditer(text):
        value = match.group("value")
        if not any(word in value.casefold() for word in _URL_PLACEHOLDERS):
            found.append((match.start("value"), match.end("value"), 1, "url-password"))
    for pattern in (_ASSIGNED_QUOTED, _ASSIGNED_BARE):
        for match in pattern.finditer(text):
            if _looks_random(match.group("value")):
                found.append((match.start("value"), match.end("value"), 2, "assigned-secret"))
    return found


def find_secrets(text: str) -> list[SecretHit]:
    """Obvious secrets in `text`, in order, never overlapping (the more specific kind wins)."""
    if not may_hold_secret(text):
        return []
    candidates = sorted(_candidates(text), key=lambda c: (c[0], c[2], -(c[1] - c[0])))
    line_starts = [0] + [m.end() for m in _NEWLINE.finditer(text)] if candidates else [0]
    hits: list[SecretHit] = []
    covered_until = -1
    for start, end, _priority, kind in candidates:
        if start < covered_until:
            continue
        covered_until = end
        line = bisect.bisect_right(line_starts, start)
        hits.append(SecretHit(line=line, kind=kind, span=(start, end)))
    return hits


def mask_secrets(text: str) -> tuple[str, int]:
    """`text` with each secret replaced by `[MASKED:<kind>]`, and how many were masked."""
    hits = find_secrets(text)
    parts: list[str] = []
    last = 0
    for hit in hits:
        start, end = hit.span
        parts.append(text[last:start])
        parts.append(f"[MASKED:{hit.kind}]")
        last = end
    parts.append(text[last:])
    return "".join(parts), len(hits)
