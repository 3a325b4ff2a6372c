"""Reading a webhook body at a bounded cost to the service, whoever sends it.

Until its signature is checked a body is a stranger's, and it cannot be checked before it is
whole. So: a shared `BodyBudget` caps the body bytes all requests hold at once (over it, 503
before reading or as soon as the next chunk would not fit); the HMAC is updated chunk by chunk
as the body arrives and an unsigned body is dropped the moment its last chunk fails the check;
and a body that does not arrive within its deadline is refused (408). Usual deliveries are small
(a ping is 8 KB, a pull request 30 KB), and they keep a reserve large bodies cannot take, so a
flood of large unsigned bodies does not starve the next real delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.requests import ClientDisconnect, Request

from app.config import Settings

SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
SMALL_BODY = 1024 * 1024  # declared at most this: a usual delivery, served from the reserve too
SMALL_RESERVE = 8 * 1024 * 1024


class BodyRefused(Exception):
    """The body was not read whole; the request gets `status` and the connection is closed."""

    status = 400
    message = "body refused"


class BodyTooLarge(BodyRefused):
    status, message = 413, "payload too large"


class OverBudget(BodyRefused):
    status, message = 503, "too many webhook bodies in flight; retry later"


class BodyTimeout(BodyRefused):
    status, message = 408, "the body did not arrive in time"


class BadSignature(BodyRefused):
    status, message = 401, "missing or invalid X-Hub-Signature-256"


class Disconnected(BodyRefused):
    status, message = 400, "client disconnected"


class BodyBudget:
    """Body bytes held at once by every webhook request of one process.

    `in_use` and `peak` are what the tests and /metrics read: the bound holds by construction,
    since every byte kept is taken from here first and given back when its request ends."""

    def __init__(self, capacity: int, *, reserve: int = 0, small: int = SMALL_BODY) -> None:
        self.capacity = capacity
        self.reserve = max(0, min(reserve, capacity))
        self.small = small
        self.in_use = 0
        self.peak = 0
        self.refused = 0

    @classmethod
    def for_settings(cls, settings: Settings) -> BodyBudget:
        """The largest delivery fits in what large bodies may use; small ones get the rest."""
        capacity = settings.webhook_body_budget_bytes
        reserve = min(SMALL_RESERVE, capacity - settings.max_webhook_bytes)
        return cls(capacity, reserve=reserve)

    def fits(self, size: int, *, small: bool) -> bool:
        limit = self.capacity if small else self.capacity - self.reserve
        return self.in_use + size <= limit

    @contextmanager
    def hold(self) -> Iterator[Hold]:
        """A request's share: whatever it takes is given back when the block ends."""
        hold = Hold(self)
        try:
            yield hold
        finally:
            self.in_use -= hold.size
            hold.size = 0


class Hold:
    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.size = 0

    def take(self, size: int, *, small: bool) -> None:
        budget = self.budget
        if not budget.fits(size, small=small):
            budget.refused += 1
            raise OverBudget
        budget.in_use += size
        budget.peak = max(budget.peak, budget.in_use)
        self.size += size


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is not None and value.isascii() and value.isdigit():
        return int(value)
    return None


def precheck(request: Request, hold: Hold, limit: int) -> tuple[str, int | None]:
    """What can be refused before reading a byte: a declared size over the limit (413), a
    signature header that cannot be GitHub's (401), a declared size over the budget (503).
    Returns the signature's hex digest and the declared length."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    header = request.headers.get("x-hub-signature-256")
    signature = header.strip() if header is not None else ""
    if not SIGNATURE.fullmatch(signature):
        raise BadSignature
    if declared is not None and not hold.budget.fits(declared, small=declared <= SMALL_BODY):
        hold.budget.refused += 1
        raise OverBudget
    return signature.removeprefix("sha256="), declared


async def read_signed(
    request: Request,
    hold: Hold,
    *,
    secret: bytes,
    limit: int,
    seconds: float,
) -> bytes:
    """The whole body, verified against X-Hub-Signature-256 (HMAC-SHA256 updated per chunk), or
    a `BodyRefused`. Every byte kept is taken from `hold` first; `seconds` bounds the whole read."""
    digest, declared = precheck(request, hold, limit)
    small_declared = declared is not None and declared <= hold.budget.small
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    chunks: list[bytes] = []  # no over-allocation while a stranger's body grows
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                hold.take(len(chunk), small=small_declared and size <= (declared or 0))
                mac.update(chunk)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout from None
    except ClientDisconnect:
        raise Disconnected from None
    if not hmac.compare_digest(mac.hexdigest().encode(), digest.encode()):
        chunks.clear()  # a stranger's bytes: gone now, not when the request ends
        raise BadSignature
    # Signed: GitHub's. Joining copies it once (not counted: only a signed body gets here).
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    chunks.clear()
    return body
