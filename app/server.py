"""The HTTP server `serve` runs: uvicorn on h11, with limits on what idle or slow clients hold.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) and caps a request head's size
(h11's incomplete-event limit), but a connection that sends its request head a byte at a time is
kept for ever. `HeadDeadlineH11` closes it when the head is not complete within
HTTP_HEADER_TIMEOUT_SECONDS. The body's own deadline and the byte budget are the webhook's
(app/webhook_body.py): they need to know which endpoint is reading.
"""

from __future__ import annotations

import asyncio
import errno
import socket

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.config import ConfigError, Settings

MAX_HEADER_BYTES = 16 * 1024  # GitHub's deliveries send about 1 KB of headers


class HeadDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head is late."""

    head_timeout: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_timer()  # the head is in: the app's own deadlines take over

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the next request on this connection gets its own deadline

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # h11 cannot answer a request it has not parsed


def head_deadline_protocol(seconds: float) -> type[HeadDeadlineH11]:
    """The protocol class with this deadline (uvicorn instantiates the class it is given)."""
    return type("HeadDeadlineH11", (HeadDeadlineH11,), {"head_timeout": seconds})


def server_config(settings: Settings, app: ASGIApp, **overrides: object) -> uvicorn.Config:
    """The uvicorn configuration of `python -m app serve`; tests and benchmarks use it too."""
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "http": head_deadline_protocol(settings.http_header_timeout_seconds),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "limit_concurrency": settings.http_max_connections,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds),
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything starts, so that a busy port or a HOST that
    names no local address stops `serve` with one sentence instead of uvicorn's log and exit."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigError(
            f"HOST={host!r} cannot be resolved ({exc.strerror}); set HOST to 0.0.0.0, "
            "127.0.0.1 or a name of this machine."
        ) from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            sentence = (
                f"PORT={port} is already in use on {host}; stop the program listening there "
                "or set PORT to a free port."
            )
        elif exc.errno == errno.EADDRNOTAVAIL:
            sentence = f"HOST={host!r} is not an address of this machine; set HOST to one."
        elif exc.errno == errno.EACCES:
            sentence = f"PORT={port} needs privileges on this machine; set PORT above 1023."
        else:
            sentence = f"Cannot listen on HOST={host!r} PORT={port} ({exc.strerror or exc})."
        raise ConfigError(sentence) from exc
    sock.set_inheritable(True)
    return sock
