"""The failures a review expects (GitHub, the network, the LLM, the submission's content) and
the sentence each becomes on the check run. Anything else is a bug, handled at the job boundary.
"""

from __future__ import annotations

from datetime import datetime

import httpx2
from gidgethub import HTTPException

from app.github.api import GitHubUnavailable
from app.github.auth import AuthError
from app.github.content import ContentError
from app.github.fetch import BaselineError
from app.review.models import ReviewError

EXPECTED_FAILURES = (
    ReviewError,
    ContentError,
    BaselineError,
    GitHubUnavailable,
    AuthError,
    HTTPException,
    httpx2.HTTPError,
)


def parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def failure_sentence(exc: BaseException) -> str:
    if isinstance(exc, HTTPException):
        return (
            f"GitHub answered {int(exc.status_code)} ({exc}) while the review was being "
            "prepared or posted."
        )
    if isinstance(exc, httpx2.HTTPError):
        return f"GitHub could not be reached ({type(exc).__name__})."
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else text + "."
