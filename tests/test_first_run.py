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
