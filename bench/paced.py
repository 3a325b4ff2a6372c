"""An open-loop HTTP/1.1 load generator at a fixed rate, for latency percentiles (what wrk2
measures; Debian has only wrk, which is closed-loop: each connection waits for its answer, so
at low connection counts it runs as fast as the server allows and never at a given rate).

Request i is due at start + i / rate; its latency runs from when it was due, not from when a
connection was free, so a stall is charged to every request it delays (no coordinated
omission). Requests are raw bytes over keep-alive connections, so the client adds little.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from bench.common import percentile


@dataclass
class Paced:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    late_starts: int = 0  # requests the client itself could not send on time (> 1 ms late)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies, default=float("nan")) * 1000


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def paced_load(
    port: int,
    head: bytes,
    body: bytes,
    *,
    rate: float,
    seconds: float,
    prefix: str,
    connections: int = 16,
) -> Paced:
    """POST `body` with `head` (request line and headers, without X-GitHub-Delivery and the
    blank line) `rate` times a second for `seconds`."""
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    result = Paced()

    async def one(index: int, due: float) -> None:
        reader, writer = await pool.get()
        request = head + f"X-GitHub-Delivery: {prefix}-{index}\r\n\r\n".encode() + body
        status = await _exchange(reader, writer, request)
        result.latencies.append(loop.time() - due)
        result.statuses[status] += 1
        pool.put_nowait((reader, writer))

    tasks: list[asyncio.Task[None]] = []
    start = loop.time() + 0.05
    for index in range(int(rate * seconds)):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            result.late_starts += 1
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return result
