"""The first minutes with the service: `serve` stops with one sentence naming the setting when it
cannot listen, and GET / says what to do next."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from app.config import Settings
from app.web import create_app
from tests.conftest import Harness
from tests.support import ROOT, SECRET


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m app serve` in an empty directory, with only the settings a start needs."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        env={**base, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False,
    )


def assert_one_sentence(done: subprocess.CompletedProcess[str], setting: str) -> None:
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0
    assert "Traceback" not in output and "Errno" not in output, output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("relo-review: ") and output.endswith("."), output
    assert setting in output, output


def test_a_port_in_use_stops_serve_with_one_sentence(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = serve(tmp_path, HOST="127.0.0.1", PORT=str(port))
    assert_one_sentence(done, f"PORT={port}")
    assert "already in use" in done.stderr


def test_an_unresolvable_host_stops_serve_with_one_sentence(tmp_path: Path) -> None:
    done = serve(tmp_path, HOST="relo-review.invalid", PORT="8000")
    assert_one_sentence(done, "HOST='relo-review.invalid'")


async def test_home_page_before_registration_points_at_the_setup_link_in_the_log(
    tmp_path: Path,
) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'l.db'}")  # type: ignore[call-arg]
    app = create_app(settings)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://relo.test") as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/setup"' in response.text
    assert "not registered on GitHub yet" in response.text
    assert "log" in response.text


async def test_home_page_after_registration_says_the_service_is_running(
    idle_harness: Harness,
) -> None:
    response = await idle_harness.client.get("/")
    assert response.status_code == 200
    assert "Relo Review is running" in response.text
    assert "/setup" not in response.text


def test_pip_install_gives_a_relo_review_command() -> None:
    import importlib
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["relo-review"].partition(":")
    entry = getattr(importlib.import_module(module), name)
    from app.__main__ import main

    assert entry is main
    assert main(["check-config", "--help"]) == 0


async def test_alembic_start_up_chatter_is_debug_but_migrations_stay_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from app.ledger import Ledger

    caplog.set_level(logging.INFO)
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    try:
        await ledger.migrate()
    finally:
        await ledger.close()
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("alembic")]
    assert not [m for level, m in messages if m.startswith(("Context impl", "Will assume"))]
    assert any(level == logging.INFO and m.startswith("Running upgrade") for level, m in messages)

    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="alembic")
    ledger = Ledger.from_url(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    try:
        await ledger.migrate()
    finally:
        await ledger.close()
    chatter = [r for r in caplog.records if r.getMessage().startswith("Context impl")]
    assert chatter and all(r.levelno == logging.DEBUG for r in chatter)


def test_the_default_path_runs_without_the_scale_extra(tmp_path: Path) -> None:
    """SQLite and the in-process queue: serve's modules import, and the service takes a
    delivery, with arq, redis and asyncpg unimportable (pip install without [scale])."""
    script = f"""
import sys
for name in ("arq", "redis", "asyncpg"):
    sys.modules[name] = None  # `import name` now raises ImportError
import asyncio, httpx2
from app.__main__ import build_parser
from app.config import Settings
from app.preflight import preflight
from app.web import create_app
from app.compose import running_services
from tests.support import delivery_headers, encode

async def main():
    settings = Settings(_env_file=None, github_webhook_secret={SECRET!r},
                        database_url="sqlite:///{tmp_path / 'l.db'}")
    await preflight(settings)
    async with running_services(settings, start_workers=False) as services:
        app = create_app(settings, services=services)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
            body = encode({{"zen": "hi"}})
            answer = await client.post("/webhook", content=body,
                                       headers=delivery_headers("ping", body))
            print(answer.status_code, (await client.get("/readyz")).status_code)
    try:
        await preflight(settings.model_copy(update={{"queue_url": "redis://127.0.0.1:1"}}))
    except Exception as exc:
        print(exc)

build_parser()
asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "200 200", done.stdout
    assert "pip install 'relo-review[scale]'" in lines[1]
