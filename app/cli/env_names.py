"""Variable names in `.env` and the environment that look like settings but are not, which the
service would silently ignore (pydantic-settings: extra="ignore"): `GITHUB_WEBHOOK_SECRT`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from app.config import Settings

_ENV_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
CUTOFF = 0.85  # close enough to be a typo: one or two letters off in a name this long


def known_names() -> frozenset[str]:
    return frozenset(name.upper() for name in Settings.model_fields)


def prefixes(known: Iterable[str]) -> frozenset[str]:
    """`GITHUB_`, `LLM_`, …: the first word of every multi-word setting."""
    return frozenset(name.split("_", 1)[0] + "_" for name in known if "_" in name)


def suggestion(name: str, known: frozenset[str]) -> str | None:
    close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=CUTOFF)
    return close[0] if close else None


def env_file_keys(text: str) -> dict[str, int]:
    """Each name assigned in a .env text -> the line of its last assignment."""
    keys: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), 1):
        match = _ENV_KEY.match(line)
        if match is not None and not line.lstrip().startswith("#"):
            keys[match.group(1)] = number
    return keys


def unknown_names(
    env_text: str | None, env_file: Path, environ: Mapping[str, str]
) -> list[str]:
    """Warnings, one a line: in .env every unknown name that shares a setting's first word or is
    close to one; in the environment (which holds much that is not ours) only the close ones."""
    known = known_names()
    ours = prefixes(known)
    warnings = []
    for name, line in (env_file_keys(env_text) if env_text is not None else {}).items():
        if name.upper() in known:
            continue
        near = suggestion(name, known)
        if near is not None:
            warnings.append(
                f"{env_file}:{line}:1: warning: {name} is not a setting; did you mean {near}?"
            )
        elif name.upper().startswith(tuple(ours)):
            warnings.append(f"{env_file}:{line}:1: warning: {name} is not a setting; it is ignored")
    for name in sorted(environ):
        if name.upper() in known:
            continue
        near = suggestion(name, known)
        if near is not None:
            warnings.append(
                f"environment: warning: {name} is not a setting; did you mean {near}?"
            )
    return warnings
