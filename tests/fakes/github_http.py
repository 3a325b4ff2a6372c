"""Plumbing shared by the fake GitHub's handlers: the request/answer types and pagination.

Handlers are plain functions ``(fake, call) -> Reply`` so each stays short and testable; they
raise ``ApiError`` for GitHub's error answers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import jwt
import uvicorn
from starlette.types import ASGIApp

from .github_shapes import Urls

if TYPE_CHECKING:
    from .github import FakeGitHub

DOCS = "https://docs.github.com/rest"
T = TypeVar("T")


@dataclass
class RecordedRequest:
    """One request as the fake received it (rejected ones included)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any | None


@dataclass
class Call:
    """A request after routing: path params, parsed JSON and the caller's installation."""

    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    urls: Urls
    params: dict[str, str] = field(default_factory=dict)
    installation_id: int | None = None

    def body(self) -> dict[str, Any]:
        """The JSON object body ({} when absent): the contract already checked its shape."""
        return self.json if isinstance(self.json, dict) else {}


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    content: bytes | None = None
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An error answer, raised from anywhere inside a handler."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.reply = Reply(status, dict(body), headers=dict(headers or {}))


Handler = Callable[["FakeGitHub", Call], Reply]


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, {"message": message, "documentation_url": DOCS, "status": "404"})


def unprocessable(error: str) -> ApiError:
    """GitHub's observed answer for a review comment it cannot place in the diff."""
    return ApiError(
        422,
        {"message": "Unprocessable Entity", "errors": [error], "documentation_url": DOCS,
         "status": "422"},
    )


def validation_failed(message: str, **extra: Any) -> ApiError:
    return ApiError(422, {"message": message, "documentation_url": DOCS, "status": "422", **extra})


def int_query(call: Call, name: str, default: int) -> int:
    try:
        return int(call.query.get(name, default))
    except ValueError:
        return default


def page_window(call: Call, *, default: int = 30, maximum: int = 100) -> tuple[int, int]:
    """(page, per_page) from the query, clamped like GitHub (per_page ≤ 100)."""
    per_page = int_query(call, "per_page", default)
    per_page = default if per_page < 1 else min(per_page, maximum)
    return max(1, int_query(call, "page", 1)), per_page


def link_header(call: Call, page: int, per_page: int, total: int) -> dict[str, str]:
    """GitHub's ``Link`` header (prev/next/last/first) for a list of ``total`` items."""
    last = max(1, -(-total // per_page))

    def url(n: int) -> str:
        query = {**call.query, "per_page": str(per_page), "page": str(n)}
        return f"{call.urls.api}{call.raw_path}?{urlencode(query)}"

    rels: list[tuple[str, int]] = []
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels.append(("first", 1))
    return {"link": ", ".join(f'<{url(n)}>; rel="{rel}"' for rel, n in rels)} if rels else {}


def paginate(
    call: Call, items: Sequence[T], *, default: int = 30, maximum: int = 100
) -> tuple[list[T], dict[str, str]]:
    """The requested page of ``items`` and its ``Link`` header."""
    page, per_page = page_window(call, default=default, maximum=maximum)
    start = (page - 1) * per_page
    return list(items[start : start + per_page]), link_header(call, page, per_page, len(items))


def check_jwt(
    token: str, public_key_pem: bytes | None, issuers: Sequence[str], now: float
) -> str | None:
    """Why GitHub would refuse this app JWT (RS256, iss, exp - iat <= 660 s), or None."""
    try:
        if jwt.get_unverified_header(token).get("alg") != "RS256":
            return "A JSON web token could not be decoded (alg must be RS256)"
        claims = jwt.decode(
            token, public_key_pem or b"", algorithms=["RS256"],
            options={"verify_signature": public_key_pem is not None, "verify_exp": False,
                     "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as error:
        return f"A JSON web token could not be decoded ({error})"
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        return "'iat' and 'exp' claims must be numeric"
    if str(claims.get("iss")) not in issuers:
        return f"'Issuer' claim ('iss') {claims.get('iss')!r} is not this app"
    if exp <= now:
        return "'Expiration time' claim ('exp') is in the past: the JWT expired"
    if exp - iat > 660:
        return "'Expiration time' claim ('exp') is too far in the future"
    if iat > now + 60:
        return "'Issued at' claim ('iat') is in the future"
    return None


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a daemon thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", access_log=False, ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
