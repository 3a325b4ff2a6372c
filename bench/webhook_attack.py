"""Webhook under attack: the latency of a signed delivery while unauthenticated clients hold
slow bodies and stream large unsigned ones, against the same delivery on the idle server.

The server is the service as `python -m app serve` runs it (`app.server.server_config`, workers
not started), in its own process so that its memory is its own: `python -m bench.webhook_attack
serve PORT DATABASE`. The attack, from this process over raw sockets:

- 1,000 slow bodies (200 with BENCH_QUICK): each declares 100 kB, sends its head and one byte a
  second, and reconnects as soon as the server lets it go;
- 12 large unsigned bodies at once: 24 MB each, as fast as the loopback takes them, again and
  again.

Meanwhile a signed `ping` (a new connection each, as GitHub makes them) goes out every 250 ms.
Printed: the signed delivery's latency idle and under attack (RATIO of the medians), the worst
one, how the attackers were answered, and the server's peak memory before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import PYTHON, ROOT, SECRET, Result, free_port, header, percentile, quick

SLOW = 1000
LARGE = 12
LARGE_BYTES = 24 * 1024 * 1024
ATTACK_SECONDS = 15.0  # longer than WEBHOOK_BODY_TIMEOUT_SECONDS: slow bodies are cut and return
PING_EVERY = 0.25
TARGET_SECONDS = 2.0


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def head(port: int, event: str, length: int, sig: str) -> bytes:
    return (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
        f"X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"X-Hub-Signature-256: {sig}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def status_of(answer: bytes) -> str:
    parts = answer.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and answer.startswith(b"HTTP/") else "closed"


@dataclass
class Tally:
    slow: Counter[str] = field(default_factory=Counter)
    large: Counter[str] = field(default_factory=Counter)
    slow_open: int = 0
    slow_open_peak: int = 0


async def signed_ping(port: int) -> tuple[float, str]:
    """(seconds, status) of one signed ping over a new connection."""
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(30):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head(port, "ping", len(body), signature(body)) + body)
            await writer.drain()
            answer = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            await writer.wait_closed()
    except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
        return time.perf_counter() - started, type(exc).__name__
    return time.perf_counter() - started, status_of(answer)


async def slow_client(port: int, stop: asyncio.Event, tally: Tally) -> None:
    unsigned = "sha256=" + "0" * 64
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head(port, "push", 100_000, unsigned) + b"{")
            await writer.drain()
            tally.slow_open += 1
            tally.slow_open_peak = max(tally.slow_open_peak, tally.slow_open)
            try:
                while not stop.is_set():
                    try:
                        answer = await asyncio.wait_for(reader.read(4096), 1.0)
                    except TimeoutError:
                        writer.write(b" ")
                        await writer.drain()
                        continue
                    tally.slow[status_of(answer)] += 1
                    break
            finally:
                tally.slow_open -= 1
        except OSError as exc:
            tally.slow[type(exc).__name__] += 1
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


async def large_client(port: int, stop: asyncio.Event, tally: Tally, body: bytes) -> None:
    unsigned = "sha256=" + "0" * 64
    view = memoryview(body)
    while not stop.is_set():
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            answer = asyncio.create_task(reader.read(4096))  # may come before the body is sent
            writer.write(head(port, "push", len(body), unsigned))
            with contextlib.suppress(OSError):  # refused early: the server closed the connection
                for start in range(0, len(body), 1024 * 1024):
                    if answer.done():
                        break
                    writer.write(view[start : start + 1024 * 1024])
                    await writer.drain()
            try:
                tally.large[status_of(await asyncio.wait_for(answer, 30))] += 1
            except (OSError, TimeoutError) as exc:
                tally.large[type(exc).__name__] += 1
        except OSError as exc:
            tally.large[type(exc).__name__] += 1
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


async def pings(port: int, seconds: float) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.append(await signed_ping(port))
        await asyncio.sleep(PING_EVERY)
    return out


async def attack(port: int, seconds: float, slow: int) -> tuple[list[tuple[float, str]], Tally]:
    tally, stop = Tally(), asyncio.Event()
    body = b"{" + b" " * (LARGE_BYTES - 2) + b"}"
    attackers = [asyncio.create_task(slow_client(port, stop, tally)) for _ in range(slow)]
    attackers += [
        asyncio.create_task(large_client(port, stop, tally, body)) for _ in range(LARGE)
    ]
    await asyncio.sleep(2.0)  # let the slow bodies pile up before measuring
    measured = await pings(port, seconds)
    stop.set()
    await asyncio.gather(*attackers)
    return measured, tally


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of the server, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


@contextlib.contextmanager
def server(root: Path) -> Iterator[tuple[int, int]]:
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "bench.webhook_attack", "serve", str(port), str(root / "ledger.db")],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summary(samples: list[tuple[float, str]]) -> tuple[float, float, float]:
    times = [t * 1000 for t, _ in samples]
    return statistics.median(times), percentile(times, 99), max(times)


def run() -> Result:
    result = header("attack", "a signed delivery while unauthenticated clients attack /webhook")
    slow, seconds = (200, 5.0) if quick() else (SLOW, ATTACK_SECONDS)
    with (
        tempfile.TemporaryDirectory(prefix="relo-bench-") as tmp,
        server(Path(tmp)) as (port, pid),
    ):
        asyncio.run(pings(port, 1.0))  # warm-up
        idle = asyncio.run(pings(port, 3.0))
        before = memory(pid)
        attacked, tally = asyncio.run(attack(port, seconds, slow))
        after = memory(pid)
    idle_p50, idle_p99, idle_max = summary(idle)
    p50, p99, worst = summary(attacked)
    result.say(
        f"signed ping idle: p50 {idle_p50:.1f} ms, p99 {idle_p99:.1f} ms, max {idle_max:.1f} ms "
        f"(n={len(idle)}, answers {dict(Counter(s for _, s in idle))})"
    )
    result.say(
        f"under attack ({slow} slow bodies, peak {tally.slow_open_peak} open at once; {LARGE} x "
        f"{LARGE_BYTES // 2**20} MB unsigned bodies streamed again and again; {seconds:g} s): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
        f"(n={len(attacked)}, answers {dict(Counter(s for _, s in attacked))})"
    )
    result.say(f"slow bodies were answered: {dict(tally.slow)}")
    result.say(f"large unsigned bodies were answered: {dict(tally.large)}")
    growth = (after["VmHWM"] - before["VmHWM"]) / 1024
    result.say(
        f"server memory: RSS {before['VmRSS'] / 1024:.0f} MiB before the attack, peak "
        f"{after['VmHWM'] / 1024:.0f} MiB after (+{growth:.0f} MiB; body budget 64 MiB)"
    )
    result.say(f"RATIO signed-delivery latency under attack / idle (p50): {p50 / idle_p50:.2f}")
    answered = all(s == "200" for _, s in attacked)
    result.check("signed pings answered 200 under attack", str(answered), "True", answered)
    result.check(
        "slowest signed delivery under attack",
        f"{worst / 1000:.2f} s",
        f"< {TARGET_SECONDS:g} s",
        worst / 1000 < TARGET_SECONDS,
    )
    result.check("server peak memory growth", f"{growth:.0f} MiB", "< 128 MiB", growth < 128)
    return result


async def serve(port: int, database: Path) -> None:
    import uvicorn

    from app.server import server_config
    from app.web import create_app, running_services
    from bench.common import make_settings

    settings = make_settings(database, port=port)
    async with running_services(
        settings, start_workers=False, reviewers=lambda job: ()
    ) as services:
        app = create_app(settings, services=services)
        config = server_config(settings, app, access_log=False, lifespan="off")
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve(int(sys.argv[2]), Path(sys.argv[3])))
    else:
        run()
