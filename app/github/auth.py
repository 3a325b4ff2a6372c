"""App JWTs and installation tokens, cached per installation.

A token lives an hour; we refresh it five minutes early so that a review never starts with a
token that expires half-way through. One token request per installation per hour, not per review.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jwt

from app.github.api import GitHubClient

REFRESH_MARGIN_SECONDS = 5 * 60
JWT_BACKDATE_SECONDS = 60
JWT_LIFETIME_SECONDS = 9 * 60  # GitHub allows 10; stay clear of clock drift.


class AuthError(Exception):
    """The app could not authenticate as itself or as an installation."""


def app_jwt(app_id: str, private_key: str, *, now: float | None = None) -> str:
    """An RS256 JWT for the app: `iat` 60 s in the past for drift, `exp` under 10 minutes."""
    issued = int(now if now is not None else time.time()) - JWT_BACKDATE_SECONDS
    payload = {"iat": issued, "exp": issued + JWT_LIFETIME_SECONDS, "iss": str(app_id)}
    return jwt.encode(payload, private_key, algorithm="RS256")


@dataclass(frozen=True, slots=True)
class InstallationToken:
    token: str
    expires_at: float  # epoch seconds


def parse_expiry(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class TokenCache:
    """Installation tokens, refreshed before expiry; concurrent callers share one request."""

    def __init__(
        self,
        *,
        app_id: str,
        private_key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_id = app_id
        self._private_key = private_key
        self._clock = clock
        self._tokens: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def jwt(self) -> str:
        return app_jwt(self._app_id, self._private_key, now=self._clock())

    def invalidate(self, installation_id: int) -> None:
        """Forget the installation's token (GitHub refused it), so the next call asks anew."""
        self._tokens.pop(installation_id, None)

    async def refresh(self, gh: GitHubClient, installation_id: int, stale: str) -> str:
        """A token other than `stale`, which GitHub just refused (401). Requests that fail
        together share one new token: only the first of them invalidates the cache."""
        async with self._locks.setdefault(installation_id, asyncio.Lock()):
            cached = self._tokens.get(installation_id)
            if cached is not None and cached.token == stale:
                self.invalidate(installation_id)
        return await self.token(gh, installation_id)

    async def token(self, gh: GitHubClient, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached and cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock():
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached and cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock():
                return cached.token
            data = await gh.post(
                "/app/installations/{installation_id}/access_tokens",
                url_vars={"installation_id": str(installation_id)},
                data=b"",
                jwt=self.jwt(),
            )
            try:
                fresh = InstallationToken(str(data["token"]), parse_expiry(str(data["expires_at"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise AuthError(
                    f"GitHub answered the token request for installation {installation_id} "
                    "without a usable token."
                ) from exc
            self._tokens[installation_id] = fresh
            return fresh.token
