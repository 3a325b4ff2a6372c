"""The `.env` side of /setup: which GitHub credentials exist already, and writing new ones.

Kept apart from the pages so that the rule "no setup once any credential exists" reads the
same files the service reads, in one place.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from app.config import Settings

# Any one of these means the app is (being) configured by someone: /setup changes nothing.
CREDENTIAL_KEYS = (
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
)
_ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@+,-]*")


class EnvUnreadable(Exception):
    """`.env` exists but cannot be read: whether credentials exist is unknown, so setup stops."""


def credentials_in(settings: Settings, env_path: Path) -> list[str]:
    """The GitHub credential variables set in the running settings or in `.env` now.

    Both count: the running settings are what the service verifies deliveries with, and `.env`
    is what a restart will load (setup writes there without changing the running process)."""
    running = {
        "GITHUB_APP_ID": bool(settings.github_app_id),
        "GITHUB_PRIVATE_KEY": settings.github_private_key is not None,
        "GITHUB_PRIVATE_KEY_PATH": settings.github_private_key_path is not None,
        "GITHUB_WEBHOOK_SECRET": bool(settings.webhook_secret),
    }
    try:
        stored = dotenv_values(env_path) if env_path.is_file() else {}
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvUnreadable(str(env_path)) from exc
    return [key for key in CREDENTIAL_KEYS if running[key] or (stored.get(key) or "").strip()]


def _quote_env(value: str) -> str:
    if _PLAIN_VALUE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _closes(text: str, quote_char: str) -> bool:
    """Whether `text` holds an unescaped `quote_char` (the end of a quoted value)."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quote_char == '"':
            escaped = True
        elif char == quote_char:
            return True
    return False


def env_with(text: str, values: Mapping[str, str]) -> str:
    """`text` (a .env file) with each key in `values` set in place; other lines and comments are
    kept, multi-line quoted values of replaced keys are replaced whole, missing keys appended."""
    lines = text.splitlines()
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(lines):
        match = _ENV_LINE.fullmatch(lines[i])
        if match is None or match.group(1) not in values:
            out.append(lines[i])
            i += 1
            continue
        key, rest = match.group(1), match.group(2)
        if rest[:1] in ("'", '"') and not _closes(rest[1:], rest[0]):
            end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], rest[0])), i)
            i = end
        out.append(f"{key}={_quote_env(values[key])}")
        seen.add(key)
        i += 1
    missing = [key for key in values if key not in seen]
    if missing:
        if out and out[-1].strip():
            out.append("")
        out.append(f"# Written by /setup on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
        out += [f"{key}={_quote_env(values[key])}" for key in missing]
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, data: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_registration(env_path: Path, app: Mapping[str, Any]) -> Path:
    """Write the key file (mode 600) beside .env, then the three settings into .env."""
    env_path = env_path.resolve()
    slug = re.sub(r"[^A-Za-z0-9_.-]", "-", str(app.get("slug") or "")).strip(".-") or "github-app"
    key_path = env_path.parent / f"{slug}.private-key.pem"
    _write_atomic(key_path, str(app["pem"]), 0o600)
    existing = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    mode = env_path.stat().st_mode & 0o777 if env_path.exists() else 0o600
    values = {
        "GITHUB_APP_ID": str(app["id"]),
        "GITHUB_PRIVATE_KEY_PATH": str(key_path),
        "GITHUB_WEBHOOK_SECRET": str(app["webhook_secret"]),
    }
    if dotenv_values(stream=io.StringIO(existing)).get("GITHUB_PRIVATE_KEY"):
        values["GITHUB_PRIVATE_KEY"] = ""  # one key source only: the new key file wins
    _write_atomic(env_path, env_with(existing, values), mode)
    return key_path
