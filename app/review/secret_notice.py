"""Notices for placeholder credentials committed in settings files.

`AKIAIOSFODNN7EXAMPLE` or `SECRET_KEY = "changeme"` is not a secret, so it is neither masked nor
reported as one; but in a settings file it is where a real secret will be pasted, so reviewers
get a notice asking that the value come from the environment instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from app.review.models import Finding, Severity
from app.review.secrets import find_placeholders

__all__ = ["is_settings_file", "placeholder_findings"]

_SETTINGS_WORDS = (
    "settings", "config", "secret", "credential", "application", ".env", "compose", "tfvars",
    "npmrc", "pypirc", "netrc", "wp-config",
)  # fmt: skip
_SETTINGS_SUFFIXES = (".env", ".ini", ".cfg", ".conf", ".properties", ".tfvars")
MAX_CHARS = 256 * 1024  # settings files are small; a huge one is reported as such


def is_settings_file(path: str) -> bool:
    """`settings.py`, `config/prod.yml`, `appsettings.json`, `.env.local`, `app.ini`, ..."""
    lowered = path.casefold()
    name = PurePosixPath(lowered).name
    return name.endswith(_SETTINGS_SUFFIXES) or any(word in lowered for word in _SETTINGS_WORDS)


def placeholder_findings(path: str, text: str) -> Iterator[Finding]:
    """A notice for each placeholder credential in a settings file."""
    if not is_settings_file(path):
        return
    for hit in find_placeholders(text[:MAX_CHARS]):
        yield Finding(
            path=path,
            start_line=hit.line,
            end_line=hit.line,
            severity=Severity.NOTICE,
            rule="relo/placeholder-secret",
            message=(
                "A placeholder stands where a credential goes in this settings file. Load the "
                "real value from the environment or a secret store, so that it is never "
                "committed here."
            ),
            title="Placeholder credential",
        )
