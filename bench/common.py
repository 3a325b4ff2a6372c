"""Shared by the benchmarks: settings without the environment, one RSA key, results that print
their figures and a verdict per target."""

from __future__ import annotations

import functools
import os
import socket
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_GITHUB = ROOT.parent / "shared" / "github"
PR_OPENED = SHARED_GITHUB / "webhooks" / "pull_request" / "opened.json"
SECRET = "bench: It's a Secret to Everybody"
PYTHON = sys.executable


@functools.cache
def keypair() -> tuple[str, bytes]:
    """(private PEM, public PEM) of one 2048-bit RSA key for the whole run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def make_settings(database: Path | str, **overrides: Any) -> Settings:
    """Settings as the tests build them: no `.env`, the bench key, a SQLite file by default."""
    url = database if isinstance(database, str) else f"sqlite+aiosqlite:///{database}"
    values: dict[str, Any] = {
        "github_app_id": "4242",
        "github_private_key": keypair()[0],
        "github_webhook_secret": SECRET,
        "github_api_url": "https://api.github.test",
        "database_url": url,
        "log_level": "WARNING",
        "shutdown_grace_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quick() -> bool:
    """BENCH_QUICK=1 shortens the timed runs (for trying the scripts, not for figures)."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def percentile(values: Iterable[float], q: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    return statistics.quantiles(data, n=1000, method="inclusive")[round(q * 10) - 1]


@dataclass(frozen=True, slots=True)
class Check:
    """One target: the measured value, the target as text, and whether it is met."""

    name: str
    value: str
    target: str
    ok: bool


@dataclass(slots=True)
class Result:
    name: str
    title: str
    lines: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        self.lines.append(line)
        print(f"  {line}" if line else "", flush=True)

    def check(self, name: str, value: str, target: str, ok: bool) -> None:
        self.checks.append(Check(name, value, target, ok))
        print(f"  {'MET ' if ok else 'MISS'}  {name}: {value}  (target {target})", flush=True)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def header(name: str, title: str) -> Result:
    print(f"\n== {name}: {title}", flush=True)
    return Result(name, title)
