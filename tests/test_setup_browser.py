"""The setup page in a real browser (Debian's headless Chromium): it renders, and its form posts
the manifest; then GitHub's redirect back completes the registration end to end. The page opens
only with the setup token, as the link `serve` logs carries it."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx2
import pytest
import uvicorn
from dotenv import dotenv_values
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.setup import setup_routes
from tests.fakes.github import FakeGitHub

CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-setup-token-0123456789abcdef"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is absent: install Debian's package (apt-get install -y chromium)",
    ),
]

# Loads the real /setup page with the browser's own HTML parser, takes its organisation form
# and submits it as a person clicking the button would (the setup page itself runs no script).
HARNESS = """<!doctype html><html><body><script>
const xhr = new XMLHttpRequest();
xhr.open('GET', '/setup?org=acme&token=%s', false);
xhr.send();
const page = new DOMParser().parseFromString(xhr.responseText, 'text/html');
const form = document.importNode(page.getElementById('register-org'), true);
document.body.appendChild(form);
form.submit();
</script></body></html>"""


def chromium(url: str, profile: Path) -> str:
    """The DOM of `url` once loaded (after any navigation its scripts start)."""
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@contextmanager
def serve(build: Callable[[str], Starlette]) -> Iterator[str]:
    """Serve the app built for its own base URL on 127.0.0.1 (a free port) in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(build(url), lifespan="off", log_level="warning", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def under_api_v3(fake: FakeGitHub) -> ASGIApp:
    """The fake GitHub as a GitHub Enterprise Server serves its API: under /api/v3."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope["path"]).removeprefix("/api/v3")
        await fake.app({**scope, "path": path, "raw_path": path.encode()}, receive, send)

    return app


def test_setup_page_renders_and_its_form_registers_the_app(
    make_settings: Callable[..., Settings],
    fake_github: FakeGitHub,
    private_pem: str,
    tmp_path: Path,
) -> None:
    posted: list[tuple[str, dict[str, list[str]]]] = []
    env_path = tmp_path / ".env"
    fake_github.manifest_codes["browser-code"] = {
        "id": 91,
        "slug": "relo-review-browser",
        "pem": private_pem,
        "webhook_secret": "whsec-browser",
    }

    async def github_new_app(request: Request) -> Response:
        """Stands in for GitHub's "create app" page: record the post, send the browser back."""
        content_type = request.headers.get("content-type", "")
        form = parse_qs((await request.body()).decode())
        posted.append((content_type, form))
        state = form.get("state", [""])[0]
        query = urlencode({"code": "browser-code", "state": state})
        return RedirectResponse(f"{json.loads(form['manifest'][0])['redirect_url']}?{query}", 303)

    async def harness(request: Request) -> Response:
        return HTMLResponse(HARNESS.replace("%s", TOKEN))

    def build(url: str) -> Starlette:
        # GITHUB_API_URL in GHES form makes this server GitHub's web host for the page's forms.
        settings = make_settings(
            github_app_id="",
            github_private_key=None,
            github_webhook_secret=None,
            github_api_url=f"{url}/api/v3",
            setup_token=TOKEN,
        )
        # The code exchange goes to the fake GitHub in-process, as GitHub serves it at /api/v3.
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=under_api_v3(fake_github)))
        routes = setup_routes(settings, http=http, env_path=env_path)
        return Starlette(
            routes=[
                *routes,
                Route("/organizations/acme/settings/apps/new", github_new_app, methods=["POST"]),
                Route("/harness", harness),
            ]
        )

    with serve(build) as url:
        locked = chromium(f"{url}/setup", tmp_path / "profile-0")
        assert "Setup link required" in locked and 'name="state"' not in locked
        page = chromium(f"{url}/setup?token={TOKEN}", tmp_path / "profile-1")
        assert "Register Relo Review on GitHub" in page
        assert f'action="{url}/settings/apps/new"' in page
        assert 'name="manifest"' in page and 'name="state"' in page and 'name="org"' in page

        done = chromium(f"{url}/harness", tmp_path / "profile-2")

    assert len(posted) == 1, done
    content_type, form = posted[0]
    assert content_type.startswith("application/x-www-form-urlencoded")
    manifest: dict[str, Any] = json.loads(form["manifest"][0])
    assert manifest["hook_attributes"]["url"] == f"{url}/webhook"
    assert manifest["redirect_url"] == f"{url}/setup/callback"
    assert manifest["name"] == "Relo Review" and manifest["default_permissions"]
    assert len(form["state"][0]) >= 32

    assert "Relo Review is registered" in done, done
    assert "/installations/new" in done
    values = dotenv_values(env_path)
    assert values["GITHUB_APP_ID"] == "91" and values["GITHUB_WEBHOOK_SECRET"] == "whsec-browser"
