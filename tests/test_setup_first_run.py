"""/setup for someone doing it the first time: what the app will ask GitHub for, a loud warning
when GitHub cannot reach the address, and the install link once the settings are loaded."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
import yaml
from starlette.applications import Starlette

from app.config import Settings
from app.setup import MANIFEST_PATH, setup_routes

TOKEN = "setup-token-0123456789abcdefghijklmnop"


def client(settings: Settings, env_path: Path, base_url: str) -> httpx2.AsyncClient:
    routes = setup_routes(settings, env_path=env_path)
    transport = httpx2.ASGITransport(app=Starlette(routes=routes))
    return httpx2.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
def unconfigured(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        github_app_id="", github_private_key=None, github_webhook_secret=None, setup_token=TOKEN
    )


async def test_the_page_lists_the_permissions_and_events_from_the_manifest(
    unconfigured: Settings, tmp_path: Path
) -> None:
    manifest = yaml.safe_load(MANIFEST_PATH.read_text())
    async with client(unconfigured, tmp_path / ".env", "https://relo.example.com") as c:
        page = (await c.get("/setup", params={"token": TOKEN})).text
    permissions = re.search(r'<ul id="permissions">(.*?)</ul>', page)
    assert permissions is not None
    for name, level in manifest["default_permissions"].items():
        assert f"<li><code>{name}</code>: {level}</li>" in permissions[1]
    events = re.search(r'<p id="events">(.*?)</p>', page)
    assert events is not None
    assert re.findall(r"<code>(\w+)</code>", events[1]) == manifest["default_events"]
    assert 'id="unreachable"' not in page  # a public name: nothing to warn about


@pytest.mark.parametrize(
    "base",
    ["http://127.0.0.1:8000", "http://localhost:8000", "http://10.1.2.3", "http://[::1]:8000",
     "http://192.168.0.5:8000"],
)
async def test_a_loopback_or_private_address_gets_a_prominent_warning(
    unconfigured: Settings, tmp_path: Path, base: str
) -> None:
    async with client(unconfigured, tmp_path / ".env", base) as c:
        page = (await c.get("/setup", params={"token": TOKEN})).text
    warning = re.search(r'<p class="warning" id="unreachable">(.*?)</p>', page)
    assert warning is not None, page
    assert "GitHub cannot reach" in warning[1] and "PUBLIC_URL" in warning[1]
    assert page.index('id="unreachable"') < page.index('id="register-personal"')


async def test_public_url_decides_what_github_must_reach(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        github_app_id="", github_private_key=None, github_webhook_secret=None,
        setup_token=TOKEN, public_url="https://relo.example.com",
    )
    async with client(settings, tmp_path / ".env", "http://127.0.0.1:8000") as c:
        page = (await c.get("/setup", params={"token": TOKEN})).text
    assert 'id="unreachable"' not in page


async def test_once_the_settings_are_loaded_it_shows_the_install_link_not_restart(
    make_settings: Callable[..., Settings], tmp_path: Path, private_pem: str
) -> None:
    key = tmp_path / "relo-review-acme.private-key.pem"  # as /setup/callback names it
    key.write_text(private_pem)
    settings = make_settings(
        github_private_key=None, github_private_key_path=key,
        github_api_url="https://api.github.com",
    )
    async with client(settings, tmp_path / ".env", "https://relo.example.com") as c:
        response = await c.get("/setup", params={"token": TOKEN})
    assert response.status_code == 403
    assert 'href="https://github.com/apps/relo-review-acme/installations/new"' in response.text
    assert "restart it to load the new settings" not in response.text


async def test_loaded_settings_without_a_known_slug_say_where_to_install(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with client(make_settings(), tmp_path / ".env", "https://relo.example.com") as c:
        response = await c.get("/setup")
    assert response.status_code == 403
    assert "Install App" in response.text
    assert "restart it to load the new settings" not in response.text


async def test_credentials_only_in_dotenv_still_ask_for_a_restart(
    unconfigured: Settings, tmp_path: Path
) -> None:
    env = tmp_path / ".env"
    env.write_text("GITHUB_APP_ID=77\n")
    async with client(unconfigured, env, "https://relo.example.com") as c:
        response = await c.get("/setup", params={"token": TOKEN})
    assert response.status_code == 403
    assert "restart it to load the new settings" in response.text
