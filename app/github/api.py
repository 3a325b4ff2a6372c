"""The one gateway to GitHub: gidgethub over httpx2, with retries that respect idempotency.

- Every request goes through `GitHubClient`: API calls, Link-header paging (`get_with_links`),
  redirects (`redirect_location`, e.g. the tarball) and downloads of the links they point to.
- A request GitHub surely did not apply (connection refused, 403/429 limits, 401) is sent again.
  A request it may have applied (timeout, dropped connection or 5xx after sending) is sent again
  only when doing it twice does no harm: GETs, PATCHes, token and reaction POSTs. Any other POST
  raises `AmbiguousWrite`, and its caller looks for what it created before creating again
  (`create_once`).
- 403/429 secondary limits obey `retry-after`, then `x-ratelimit-reset`, then wait at least a
  minute, doubling on every further try. When an installation's primary budget is nearly spent,
  requests wait for the reset.
- A 401 with an installation token asks `refresh_token` for a fresh one and retries once.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx2
from gidgethub import BadRequest, HTTPException, RedirectionException
from gidgethub.httpx import GitHubAPI
from tenacity import RetryCallState
from tenacity.wait import wait_random_exponential

log = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = "relo-review"
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
RATE_LIMIT_STATUS = frozenset({403, 429})
RESERVE_REQUESTS = 10  # keep a few requests for completing check runs
MAX_WAIT_SECONDS = 15 * 60
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: without retry-after, wait at least a minute
_SECONDARY_LIMIT = re.compile(r"secondary rate limit|abuse detection", re.IGNORECASE)
# POSTs that do no harm twice: a spare installation token; a reaction (200 if it exists).
_HARMLESS_POSTS = re.compile(r"/app/installations/\d+/access_tokens$|/reactions$")
# Failures that happen before the request leaves: GitHub cannot have seen it.
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_LINKS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("links", default=None)

TokenRefresh = Callable[[str], Awaitable[str]]


class GitHubUnavailable(Exception):
    """GitHub kept failing (5xx, timeouts, connection errors) after every retry."""


class AmbiguousWrite(GitHubUnavailable):
    """GitHub may or may not have applied a write whose answer was lost; sending it again
    could apply it twice, so the caller must look before it creates again."""


class Sink(Protocol):
    """Where a download goes; `reset` starts it over when the download restarts."""

    async def write(self, chunk: bytes) -> None: ...

    async def reset(self) -> None: ...


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def resendable(method: str, url: str) -> bool:
    """Whether sending this request twice does no more than sending it once."""
    if method != "POST":
        return True
    return _HARMLESS_POSTS.search(urlsplit(url).path) is not None


def rate_limit_wait(headers: Mapping[str, str], now: float, attempt: int) -> float | None:
    """Seconds to wait before retrying a 403/429, or None when the headers do not say."""
    retry_after = _header(headers, "retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return SECONDARY_LIMIT_WAIT
    remaining = _header(headers, "x-ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset")
    if remaining == "0" and reset is not None:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return SECONDARY_LIMIT_WAIT
    return None


def _token_of(headers: Mapping[str, str]) -> str | None:
    scheme, _, credential = (_header(headers, "authorization") or "").partition(" ")
    return credential.strip() or None if scheme.lower() == "token" else None


class GitHubClient(GitHubAPI):
    """A gidgethub client that retries what is safe to retry and waits when GitHub asks."""

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
        refresh_token: TokenRefresh | None = None,
    ) -> None:
        super().__init__(client, USER_AGENT, oauth_token=oauth_token, base_url=base_url)
        self.http = client
        self.max_attempts = max_attempts
        self.refresh_token = refresh_token
        self._wait = wait_random_exponential(multiplier=0.5, max=backoff_max)
        self._sleep = sleep
        self._clock = clock
        self._on_response = on_response
        self._replaced: set[str] = set()  # tokens a 401 retired; gidgethub may resend them

    async def sleep(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
        else:
            await super().sleep(seconds)

    def backoff(self, attempt: int) -> float:
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempt
        return float(self._wait(state))

    def _observe(self, method: str, status: int, headers: Mapping[str, str]) -> None:
        if self._on_response is not None:
            self._on_response(method, status, headers)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            stale = _token_of(headers)
            if stale in self._replaced and self.oauth_token is not None:
                headers = {**headers, "authorization": f"token {self.oauth_token}"}
            try:
                response = await self.http.request(
                    method, url, headers=dict(headers), content=body, follow_redirects=False
                )
            except httpx2.TransportError as exc:
                failure = type(exc).__name__
                if not isinstance(exc, _NOT_SENT) and not resendable(method, url):
                    raise AmbiguousWrite(
                        f"GitHub's answer to {method} {urlsplit(url).path} was lost "
                        f"({failure}); it may have been applied."
                    ) from exc
                cause: BaseException | None = exc
            else:
                status, content = response.status_code, response.content
                self._observe(method, status, response.headers)
                if status == 401 and not refreshed and await self._refreshed(headers):
                    refreshed, attempt = True, attempt - 1
                    continue
                if status not in RETRYABLE_STATUS:
                    links = _LINKS.get()
                    if links is not None:
                        links.append(response.headers.get("link", ""))
                    return status, response.headers, content
                failure, cause = f"GitHub answered {status}", None
                if not resendable(method, url):
                    raise AmbiguousWrite(
                        f"{failure} to {method} {urlsplit(url).path}; it may have been applied."
                    )
                if attempt >= self.max_attempts:
                    return status, response.headers, content  # gidgethub raises GitHubBroken
            if attempt >= self.max_attempts:
                raise GitHubUnavailable(
                    f"GitHub could not be reached ({failure}) after {attempt} attempts."
                ) from cause
            log.warning("github %s %s failed: %s; retrying", method, url, failure)
            await self.sleep(self.backoff(attempt))

    async def _refreshed(self, headers: Mapping[str, str]) -> bool:
        """After a 401: swap the installation token for a fresh one, if we can."""
        stale = _token_of(headers)
        if stale is None or self.refresh_token is None:
            return False
        fresh = await self.refresh_token(stale)
        if fresh == stale:
            return False
        log.info("github answered 401; retrying once with a fresh installation token")
        self._replaced.add(stale)
        self.oauth_token = fresh
        return True

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
        """403/429 limits: wait as GitHub asks, then retry. (5xx were retried in `_request`.)"""
        if attempt >= self.max_attempts:
            return False
        status = int(exception.status_code)
        if not isinstance(exception, BadRequest) or status not in RATE_LIMIT_STATUS:
            return False
        wait = rate_limit_wait(exception.headers or {}, self._clock(), attempt)
        if wait is None and (status == 429 or _SECONDARY_LIMIT.search(str(exception))):
            wait = SECONDARY_LIMIT_WAIT * 2 ** (attempt - 1)
        if wait is None:
            return False  # a plain permission error: retrying will not help
        log.warning("github secondary rate limit on %s %s; waiting %.0f s", method, url, wait)
        await self.sleep(min(wait, MAX_WAIT_SECONDS))
        return True

    # --- beyond JSON items ------------------------------------------------------------------

    async def get_with_links(self, url: str) -> tuple[Any, dict[str, str]]:
        """GET returning the body and every Link relation (gidgethub keeps only `next`)."""
        seen: list[str] = []
        token = _LINKS.set(seen)
        try:
            data = await self.getitem(url)
        finally:
            _LINKS.reset(token)
        return data, parse_links(seen[-1] if seen else None)

    async def redirect_location(self, url: str) -> str:
        """Where GitHub redirects a GET (tarballs, artifacts: short-lived signed links)."""
        try:
            await self.getitem(url)
        except RedirectionException as exc:
            location = _header(exc.headers or {}, "location")
            if location:
                return location
            raise
        raise GitHubUnavailable(f"GitHub answered {urlsplit(url).path} without a redirect.")

    async def download(self, url: str, sink: Sink) -> None:
        """Stream a signed link into `sink`, without credentials (it may be another host).
        Network errors and 5xx start the download over; other answers are not retried."""
        attempt = 0
        while True:
            attempt += 1
            cause: BaseException | None = None
            try:
                async with self.http.stream(
                    "GET", url, headers={"user-agent": USER_AGENT}, follow_redirects=True
                ) as response:
                    status = response.status_code
                    self._observe("GET", status, response.headers)
                    if status == 200:
                        async for chunk in response.aiter_bytes():
                            await sink.write(chunk)
                        return
                    if status not in RETRYABLE_STATUS:
                        raise GitHubUnavailable(f"The download link answered {status}.")
                    failure = f"the download link answered {status}"
            except httpx2.TransportError as exc:
                failure, cause = type(exc).__name__, exc
            if attempt >= self.max_attempts:
                raise GitHubUnavailable(
                    f"A download from GitHub failed ({failure}) after {attempt} attempts."
                ) from cause
            log.warning("github download failed: %s; starting over", failure)
            await sink.reset()
            await self.sleep(self.backoff(attempt))


async def create_once(
    gh: GitHubClient,
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
) -> T:
    """Create something at most once: after an ambiguous answer, look for it (GitHub may have
    made it) before sending the creation again."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await create()
        except AmbiguousWrite as exc:
            log.warning("%s Looking for it before creating it again.", exc)
            await gh.sleep(gh.backoff(attempt))
            found = await find()
            if found is not None:
                return found
            if attempt >= gh.max_attempts:
                raise


_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="(?P<rel>\w+)"')


def parse_links(header: str | None) -> dict[str, str]:
    """RFC 8288 Link header -> {rel: url}."""
    return {m["rel"]: m["url"] for m in _LINK.finditer(header or "")}
