"""`python -m app serve` wiring: the server it runs is the guarded one, and the setup link it logs
opens the setup page of the app it serves (and nothing else does)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn

from app.__main__ import main
from app.server import HeadDeadlineH11

CREDENTIALS = (
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
    "SETUP_TOKEN",
)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[uvicorn.Config]]:
    """`serve` in an empty folder; the server it would run is recorded instead of run."""
    monkeypatch.chdir(tmp_path)
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    configs: list[uvicorn.Config] = []

    def run(self: uvicorn.Server, sockets: object = None) -> None:
        configs.append(self.config)
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield configs
    finally:  # serve configures the root logger for the process; give the test run its own back
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_logged_setup_link_opens_the_served_setup_page(
    served: list[uvicorn.Config], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 0
    [config] = served
    assert isinstance(config.http, type) and issubclass(config.http, HeadDeadlineH11)
    assert config.timeout_keep_alive == 5 and config.h11_max_incomplete_event_size == 16 * 1024
    log = capsys.readouterr().err
    match = re.search(r"open http://127\.0\.0\.1:8000/setup\?token=([A-Za-z0-9_-]{32,}) ", log)
    assert match is not None, log
    token = match[1]

    async def pages() -> None:
        transport = httpx2.ASGITransport(app=config.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://relo.test") as client:
            opened = await client.get("/setup", params={"token": token})
            assert opened.status_code == 200 and 'name="state"' in opened.text
            for params in ({}, {"token": token[:-1] + ("x" if token[-1] != "x" else "y")}):
                locked = await client.get("/setup", params=params)
                assert locked.status_code == 403 and 'name="state"' not in locked.text

    asyncio.run(pages())


def test_no_setup_link_once_a_credential_is_set(
    served: list[uvicorn.Config],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", "s3cret-value")
    assert main(["serve"]) == 0
    log = capsys.readouterr().err
    assert "/setup?token=" not in log and "/setup is closed" in log
