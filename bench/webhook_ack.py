"""1. Webhook acknowledgement: the real /webhook against a bare endpoint and the reference
handler (bench/reference.py), each a uvicorn process on 127.0.0.1, all driven the same way.

- throughput: wrk (1 thread, 16 connections) posting GitHub's published `pull_request.opened`
  delivery (28 KB) with a precomputed signature and a new X-GitHub-Delivery per request
  (bench/webhook.lua), after a short warm-up;
- latency: p50/p99 at a fixed 200 requests/s, open loop (bench/paced.py).

The real endpoint runs with its workers not started: the delivery and its review job are
stored in the ledger (SQLite) before the 202, and nothing else happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    PR_OPENED,
    PYTHON,
    ROOT,
    SECRET,
    Result,
    free_port,
    header,
    quick,
)
from bench.paced import Paced, paced_load

SERVERS = ("bare", "reference", "real")
ROUNDS = 3
CONNECTIONS = 16
RATE = 200.0
LUA = Path(__file__).with_name("webhook.lua")


@dataclass
class Round:
    rps: float
    requests: int
    non_2xx: int
    errors: str
    stored: int


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@contextlib.contextmanager
def server(kind: str, database: Path, log: Path) -> Iterator[int]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "bench.servers", kind, str(port), str(database)],
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
                raise RuntimeError(f"the {kind} server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(port: int, body_file: Path, seconds: int) -> tuple[float, int, int, str]:
    """(requests/s, requests, non-2xx answers, socket errors) of one wrk run."""
    prefix = uuid.uuid4().hex
    out = subprocess.run(
        [
            "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(LUA),
            f"http://127.0.0.1:{port}/webhook", "--",
            str(body_file), signature(body_file.read_bytes()), prefix,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return rps, total, int(non.group(1)) if non else 0, errors.group(1) if errors else "none"


def stored(database: Path) -> int:
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return int(conn.execute("SELECT count(*) FROM deliveries").fetchone()[0])


def latency(port: int, body: bytes, seconds: float) -> Paced:
    """Open-loop latency at RATE, after the disk has written back the previous load (so one
    server's fsyncs are not charged to the next)."""
    os.sync()
    time.sleep(1.0)
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
        f"X-GitHub-Event: pull_request\r\nX-Hub-Signature-256: {signature(body)}\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return asyncio.run(
        paced_load(port, head, body, rate=RATE, seconds=seconds, prefix=uuid.uuid4().hex)
    )


def throughput(port: int, database: Path, body_file: Path, seconds: int) -> Round:
    before = stored(database)
    rps, total, non_2xx, errors = wrk(port, body_file, seconds)
    return Round(rps, total, non_2xx, errors, stored(database) - before)


def run() -> Result:
    result = header("webhook", "acknowledging a 28 KB pull_request delivery")
    if shutil.which("wrk") is None:
        result.check("wrk installed", "missing: apt-get install -y wrk", "present", False)
        return result
    rounds, paced_s, wrk_s = (1, 3.0, 3) if quick() else (ROUNDS, 4.0, 3)
    with tempfile.TemporaryDirectory(prefix="relo-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        body_file = root / "pull_request.opened.json"
        shutil.copyfile(PR_OPENED, body_file)
        result.say(
            f"body {body_file.stat().st_size} bytes (GitHub's published pull_request/opened "
            f"example); {rounds} rounds, each server in turn: {paced_s:g} s open-loop at "
            f"{RATE:g} req/s, then wrk -t1 -c{CONNECTIONS} -d{wrk_s}s; best throughput "
            "and median p99 of the rounds"
        )
        ports = {
            kind: stack.enter_context(server(kind, root / f"{kind}.db", root / f"{kind}.log"))
            for kind in SERVERS
        }
        for port in ports.values():
            wrk(port, body_file, 2)  # warm-up
        body = body_file.read_bytes()
        runs: dict[str, list[Round]] = {kind: [] for kind in SERVERS}
        paced: dict[str, list[Paced]] = {kind: [] for kind in SERVERS}
        for _ in range(rounds):
            for kind, port in ports.items():
                paced[kind].append(latency(port, body, paced_s))
            for kind, port in ports.items():
                runs[kind].append(throughput(port, root / f"{kind}.db", body_file, wrk_s))
    best = {kind: max(r.rps for r in rs) for kind, rs in runs.items()}
    p99 = {kind: statistics.median(p.p99_ms for p in ps) for kind, ps in paced.items()}
    for kind, rs in runs.items():
        result.say(
            f"{kind:>9}: {best[kind]:6.0f} req/s (rounds: "
            + ", ".join(f"{r.rps:.0f}" for r in rs)
            + f"); at {RATE:g}/s p99 {p99[kind]:.1f} ms (rounds, ms: "
            + ", ".join(
                f"p50 {p.p50_ms:.1f}/p99 {p.p99_ms:.1f}/max {p.max_ms:.0f}" for p in paced[kind]
            )
            + ")"
        )
        problems = [
            f"{r.non_2xx} non-2xx, socket errors {r.errors}"
            for r in rs
            if r.non_2xx or r.errors != "none"
        ] + [
            f"answers at {RATE:g}/s: {dict(p.statuses)}"
            for p in paced[kind]
            if set(p.statuses) - {200, 202}
        ]
        if problems:
            result.say(f"{'':>9}  {'; '.join(problems)}")
    result.say(f"RATIO reference / bare: {best['reference'] / best['bare']:.2f}")
    result.say(f"RATIO real / bare: {best['real'] / best['bare']:.2f}")
    ratio = best["real"] / best["reference"]
    result.check("RATIO real / reference throughput", f"{ratio:.2f}", ">= 0.8", ratio >= 0.8)
    result.check(
        f"real p99 at {RATE:g} req/s", f"{p99['real']:.1f} ms", "< 10 ms", p99["real"] < 10
    )
    lost = sum(max(0, r.requests - r.non_2xx - r.stored) for r in runs["real"])
    result.check("real: every 202 stored in the ledger", f"{lost} missing", "0", lost == 0)
    return result


if __name__ == "__main__":
    run()
