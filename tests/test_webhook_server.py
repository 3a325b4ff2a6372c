"""The webhook behind the HTTP server `serve` runs (uvicorn with `server_config`, on 127.0.0.1 and
a free port): slow clients are held only until their deadlines, and a signed delivery is answered
while many of them are held. The "< 2 s" figure is measured by bench/webhook_attack.py."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx2
import uvicorn

from app.config import Settings
from app.server import HeadDeadlineH11, server_config
from app.web import create_app, running_services
from tests.support import delivery_headers, encode

SLOW_BODIES = 300
UNSIGNED = "sha256=" + "0" * 64


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[str, int]]:
    """The service on a listening socket; connections made before uvicorn accepts them wait in
    the kernel's backlog, so nothing needs to poll for the start."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    async with running_services(settings, start_workers=False, reviewers=lambda job: ()) as svc:
        app = create_app(settings, services=svc)
        # A short graceful shutdown: a connection still held at the end must not hang the test.
        config = server_config(
            settings, app, lifespan="off", access_log=False, timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            yield "127.0.0.1", port
        finally:
            server.should_exit = True
            await task
            sock.close()


async def slow_body(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A delivery that declares 100 kB, sends its head and 10 bytes, then nothing more."""
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        "POST /webhook HTTP/1.1\r\nhost: relo.test\r\ncontent-type: application/json\r\n"
        "x-github-event: push\r\nx-github-delivery: slow\r\n"
        f"x-hub-signature-256: {UNSIGNED}\r\ncontent-length: 100000\r\n\r\n"
    )
    writer.write(head.encode() + b'{"zen": "x')
    await writer.drain()
    return reader, writer


async def answer_of(reader: asyncio.StreamReader, answered: list[int], index: int) -> bytes:
    data = await reader.read()  # until the server closes the connection
    answered.append(index)
    return data


def test_serve_uses_the_guarded_server_config(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(http_header_timeout_seconds=3.5, http_max_connections=900)
    config = server_config(settings, create_app(settings))
    protocol = config.http
    assert isinstance(protocol, type) and issubclass(protocol, HeadDeadlineH11)
    assert protocol.head_timeout == 3.5
    assert config.timeout_keep_alive == 5 and config.h11_max_incomplete_event_size == 16 * 1024
    assert config.limit_concurrency == 900 and config.host == "127.0.0.1"


async def test_slow_clients_are_cut_off_while_a_signed_delivery_is_answered(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(webhook_body_timeout_seconds=3.0, http_header_timeout_seconds=3.0)
    # The outer timeout only turns a regression (a connection never cut off) into a failure.
    async with asyncio.timeout(60), serving(settings) as (host, port):
        slow = [await slow_body(host, port) for _ in range(SLOW_BODIES)]
        # One connection that never finishes its request head, one that sends nothing at all.
        head_reader, head_writer = await asyncio.open_connection(host, port)
        head_writer.write(b"POST /webhook HTTP/1.1\r\nhost: relo.test\r\nx-github-ev")
        idle_reader, idle_writer = await asyncio.open_connection(host, port)
        answered: list[int] = []
        waiting = [
            asyncio.create_task(answer_of(reader, answered, i))
            for i, (reader, _) in enumerate(slow)
        ]
        body = encode({"zen": "Approachable is better than simple."})
        async with httpx2.AsyncClient(base_url=f"http://{host}:{port}") as client:
            ping = await client.post(
                "/webhook", content=body, headers=delivery_headers("ping", body)
            )
        assert ping.status_code == 200 and ping.json() == {"status": "pong"}
        assert answered == [], "slow bodies were answered before the signed delivery"

        answers = await asyncio.gather(*waiting)
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:40] for a in answers}
        assert all(b"connection: close" in a for a in answers)
        assert await head_reader.read() == b""  # closed: h11 cannot answer a half-read head
        assert await idle_reader.read() == b""
        for _, writer in slow:
            writer.close()
        head_writer.close()
        idle_writer.close()
        await asyncio.gather(
            *(w.wait_closed() for _, w in slow),
            head_writer.wait_closed(),
            idle_writer.wait_closed(),
        )
