"""Deterministic detection and masking of secrets in submission text.

Candidates sometimes commit keys and passwords. We flag them (a hiring signal, and the owner should
revoke them) and mask them before any text leaves for an LLM (trust model: secrets never reach
prompts). Detection combines Yelp's detect-secrets plugins (secret_plugins.py), rules for the
shapes it lacks (secret_rules.py) and values assigned to secret-looking names
(secret_assigned.py); placeholders such as AWS's documented example key are not secrets.

Masking never moves a line: a secret spanning lines (a PEM key) is masked line by line.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from app.review import secret_assigned, secret_plugins, secret_rules
from app.review.secret_rules import Candidate
from app.review.secret_values import is_placeholder, is_reference, shannon_entropy

__all__ = [
    "NEEDED",
    "SecretHit",
    "find_placeholders",
    "find_secrets",
    "mask_secrets",
    "may_hold_secret",
    "shannon_entropy",
]


@dataclass(frozen=True, slots=True)
class SecretHit:
    """One secret: its 1-based line, its kind and its [start, end) offsets in the text."""

    line: int
    kind: str
    span: tuple[int, int]


def _unique(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))


# Every literal some rule needs (case-folded), and the case-sensitive ones some plugins need;
# text holding none of them only meets the shape-only plugins, and those only when their
# combined pattern matches.
NEEDED = _unique(
    secret_rules.PEM_NEEDS
    + tuple(word for rule in secret_rules.RULES for word in rule.needs)
    + tuple(word for plugin in secret_plugins.PLUGINS if not plugin.exact for word in plugin.needs)
    + secret_assigned.NEEDS
    + secret_plugins.KEYWORD_NEEDS
)
_ROOTS = tuple(word for word in NEEDED if not any(o != word and o in word for o in NEEDED))
_UNDER = {root: tuple(w for w in NEEDED if w != root and root in w) for root in _ROOTS}
_EXACT = _unique(
    tuple(word for plugin in secret_plugins.PLUGINS if plugin.exact for word in plugin.needs)
)
# The keyword plugin runs on the lines where our own scan met a secret-looking name.
_KEYWORD_LINES = 64
_KEYWORD_LINE_CHARS = 300
# Characters that `re.I` matches to an ASCII letter but `str.lower` does not turn into it.
_RE_I_LETTERS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def _fold(text: str) -> str:
    """`text` lowercased, the same length (offsets stay valid), and with every character that
    `re.I` matches to an ASCII letter turned into that letter."""
    return text.lower() if text.isascii() else text.translate(_RE_I_LETTERS).lower()


def may_hold_secret(text: str) -> bool:
    """False when `text` cannot hold a secret that `find_secrets` finds."""
    folded = _fold(text)
    return (
        any(word in folded for word in NEEDED)
        or any(word in text for word in _EXACT)
        or secret_plugins.SHAPE_ONLY.search(text) is not None
    )


def _present(text: str) -> set[str]:
    """The needed literals `text` holds: a literal is looked for only when a shorter one it
    contains (its root) is there, which spares most of the searches."""
    folded = _fold(text)
    present = {word for word in _EXACT if word in text}
    for root in _ROOTS:
        if root in folded:
            present.add(root)
            present.update(word for word in _UNDER[root] if word in folded)
    return present


def _candidates(text: str) -> list[Candidate]:
    """All raw matches as (start, end, priority, kind); lower priority wins on overlap."""
    present = _present(text)
    found: list[Candidate] = []
    if not present.isdisjoint(secret_rules.PEM_NEEDS):
        found.extend(secret_rules.private_keys(text))
    for rule in secret_rules.RULES:
        if not present.isdisjoint(rule.needs):
            found.extend(rule.candidates(text))
    shapes = secret_plugins.SHAPE_ONLY.search(text) is not None
    for plugin in secret_plugins.PLUGINS:
        if not present.isdisjoint(plugin.needs) if plugin.needs else shapes:
            found.extend(plugin.candidates(text))
    if not present.isdisjoint(secret_assigned.NEEDS):
        named: set[int] = set()
        found.extend(secret_assigned.assigned_secrets(text, named))
        found.extend(secret_plugins.keyword_secrets(text, _lines_at(text, named)))
    return found


def _lines_at(text: str, starts: set[int]) -> list[tuple[int, str]]:
    """(offset, line) of the lines starting at `starts`, for the keyword plugin: at most
    `_KEYWORD_LINES` of them, of at most `_KEYWORD_LINE_CHARS` (its regexes backtrack)."""
    lines = []
    for start in sorted(starts)[:_KEYWORD_LINES]:
        end = text.find("\n", start)
        line = text[start : len(text) if end < 0 else end]
        if len(line) <= _KEYWORD_LINE_CHARS:
            lines.append((start, line))
    return lines


def find_secrets(text: str) -> list[SecretHit]:
    """Secrets in `text`, in order, never overlapping (the more specific kind wins)."""
    if not text:
        return []
    return _resolve(text, _candidates(text))


def _resolve(text: str, found: list[Candidate]) -> list[SecretHit]:
    """Candidates in order and without overlaps (the more specific kind wins), with lines."""
    candidates = sorted(found, key=lambda c: (c[0], c[2], -(c[1] - c[0])))
    if not candidates:
        return []
    line_starts = [0]
    index = text.find("\n")
    while index >= 0:
        line_starts.append(index + 1)
        index = text.find("\n", index + 1)
    hits: list[SecretHit] = []
    covered_until = -1
    for start, end, _priority, kind in candidates:
        if start < covered_until:
            if end > covered_until and hits:  # overlapping matches: mask their union
                last = hits[-1]
                hits[-1] = SecretHit(last.line, last.kind, (last.span[0], end))
                covered_until = end
            continue
        covered_until = end
        line = bisect.bisect_right(line_starts, start)
        hits.append(SecretHit(line=line, kind=kind, span=(start, end)))
    return hits


def find_placeholders(text: str) -> list[SecretHit]:
    """Stand-ins where a secret would go: documented example keys (`AKIAIOSFODNN7EXAMPLE`,
    `ghp_xxxx...`) and secret-looking names given a placeholder (`SECRET_KEY = "changeme"`).
    Not secrets, so never masked; a committed settings file holding one is worth a notice,
    since the real value must come from elsewhere. References (`${DB_PASSWORD}`) are not
    placeholders: loading the secret from the environment is what should be done."""
    present = _present(text)
    found: list[Candidate] = []
    for rule in secret_rules.RULES:
        if not present.isdisjoint(rule.needs):
            found.extend(rule.examples(text))
    if not present.isdisjoint(secret_assigned.NEEDS):
        for _line, (start, end) in secret_assigned.assigned_values(text):
            value = text[start:end]
            if len(value) >= 4 and is_placeholder(value) and not is_reference(value):
                found.append((start, end, 2, "placeholder"))
    hits = _resolve(text, found)
    return [SecretHit(hit.line, "placeholder", hit.span) for hit in hits]


def mask_secrets(text: str) -> tuple[str, int]:
    """`text` with each secret replaced by `[MASKED:<kind>]`, and how many were masked.

    A secret spanning lines leaves one marker per line, so every line keeps its number."""
    hits = find_secrets(text)
    parts: list[str] = []
    last = 0
    for hit in hits:
        start, end = hit.span
        parts.append(text[last:start])
        marker = f"[MASKED:{hit.kind}]"
        parts.append("\n".join(marker for _ in range(text.count("\n", start, end) + 1)))
        last = end
    parts.append(text[last:])
    return "".join(parts), len(hits)
