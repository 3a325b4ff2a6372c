"""The GitHub client: gidgethub over httpx2, with retries and rate-limit manners.

- 5xx answers, timeouts and connection errors are retried with exponential backoff and jitter
  (tenacity's wait strategy, so we do not hand-roll the arithmetic).
- 403/429 secondary limits obey `retry-after`, then `x-ratelimit-reset`, then wait a minute.
- When an installation's primary budget is nearly spent, requests wait for the reset.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx2
from gidgethub import BadRequest, GitHubBroken, HTTPException, sansio
from gidgethub.httpx import GitHubAPI
from tenacity import RetryCallState
from tenacity.wait import wait_random_exponential

log = logging.getLogger(__name__)

USER_AGENT = "relo-review"
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
RATE_LIMIT_STATUS = frozenset({403, 429})
RESERVE_REQUESTS = 10  # keep a few requests for completing check runs
MAX_WAIT_SECONDS = 15 * 60


class GitHubUnavailable(Exception):
    """GitHub kept failing (5xx, timeouts, connection errors) after every retry."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def rate_limit_wait(headers: Mapping[str, str], now: float, attempt: int) -> float | None:
    """Seconds to wait before retrying a 403/429, or None when it is not a rate limit."""
    retry_after = _header(headers, "retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return 60.0
    remaining = _header(headers, "x-ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset")
    if remaining == "0" and reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return 60.0
    return None


class GitHubClient(GitHubAPI):
    """A gidgethub client that retries what is worth retrying and waits when GitHub asks."""

    def __init__(
        self,
        client: httpx2.AsyncClient,
        *,
        base_url: str,
        oauth_token: str | None = None,
        max_attempts: int = 5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        on_response: Callable[[str, int, Mapping[str, str]], None] | None = None,
    ) -> None:
        super().__init__(client, USER_AGENT, oauth_token=oauth_token, base_url=base_url)
        self.http = client
        self._max_attempts = max_attempts
        self._wait = wait_random_exponential(multiplier=0.5, max=backoff_max)
        self._sleep = sleep
        self._clock = clock
        self._on_response = on_response

    async def sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
        else:
            await super().sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        return float(self._wait(state))

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        attempt = 0
        while True:
            attempt += 1
            try:
                status, response_headers, content = await super()._request(
                    method, url, headers, body
                )
            except (httpx2.TimeoutException, httpx2.TransportError) as exc:
                if attempt >= self._max_attempts:
                    raise GitHubUnavailable(
                        f"GitHub could not be reached ({type(exc).__name__}) after "
                        f"{attempt} attempts."
                    ) from exc
                log.warning("github %s %s failed: %s; retrying", method, url, type(exc).__name__)
                await self.sleep(self._backoff(attempt))
                continue
            if self._on_response is not None:
                self._on_response(method, status, response_headers)
            return status, response_headers, content

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        limit = self.rate_limit
        if limit is None or limit.remaining > RESERVE_REQUESTS:
            return
        wait = limit.reset_datetime.timestamp() - self._clock()
        if wait > 0:
            log.warning("github primary rate limit nearly spent; waiting %.0f s", wait)
            await self.sleep(min(wait, MAX_WAIT_SECONDS))
            self.rate_limit = None

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        if attempt >= self._max_attempts:
            return False
        status = int(exception.status_code)
        if isinstance(exception, GitHubBroken) and status in RETRYABLE_STATUS:
            await self.sleep(self._backoff(attempt))
            return True
        if isinstance(exception, BadRequest) and status in RATE_LIMIT_STATUS:
            wait = rate_limit_wait(exception.headers or {}, self._clock(), attempt)
            if wait is None and status == 429:
                wait = 60.0
            if wait is None:
                return False  # a plain permission error: retrying will not help
            log.warning("github secondary rate limit on %s %s; waiting %.0f s", method, url, wait)
            await self.sleep(min(wait, MAX_WAIT_SECONDS))
            return True
        return False


_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="(?P<rel>\w+)"')


def parse_links(header: str | None) -> dict[str, str]:
    """RFC 8288 Link header -> {rel: url}; gidgethub keeps only `next`, we sometimes need `last`."""
    return {m["rel"]: m["url"] for m in _LINK.finditer(header or "")}


async def get_with_links(gh: GitHubClient, url: str) -> tuple[Any, dict[str, str]]:
    """GET returning the body and the Link relations, with the client's retries and auth."""
    filled = sansio.format_url(url, {}, base_url=gh.base_url)
    headers = sansio.create_headers(
        gh.requester, accept=sansio.accept_format(), oauth_token=gh.oauth_token
    )
    status, response_headers, body = await gh._request("GET", filled, headers)
    data, gh.rate_limit, _ = sansio.decipher_response(status, response_headers, body)
    return data, parse_links(response_headers.get("link"))
