"""The manifest flow: /setup renders the registration forms, /setup/callback writes .env; only
for whoever holds the setup token, and never once any GitHub credential exists."""

from __future__ import annotations

import html
import io
import json
import re
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from dotenv import dotenv_values
from starlette.applications import Starlette

from app.config import Settings
from app.setup import StateStore, github_web_url, prepare_setup, setup_routes
from app.setup_env import env_with
from tests.fakes.github import FakeGitHub

EXISTING_ENV = """\
# Relo Review settings.
GITHUB_APP_ID=
# the key, as a file
GITHUB_PRIVATE_KEY_PATH=
GITHUB_WEBHOOK_SECRET=
GITHUB_API_URL=https://api.github.test
OPENAI_MODEL=gpt-4o-mini
"""
TOKEN = "setup-token-0123456789abcdefghijklmnop"


@pytest.fixture
def unconfigured(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(
        github_app_id="", github_private_key=None, github_webhook_secret=None, setup_token=TOKEN
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env_path(tmp_path: Path) -> Path:
    path = tmp_path / "conf" / ".env"
    path.parent.mkdir()
    path.write_text(EXISTING_ENV)
    return path


def client_for(
    settings: Settings, github_http: httpx2.AsyncClient, env_path: Path, clock: Clock
) -> httpx2.AsyncClient:
    routes = setup_routes(
        settings, http=github_http, env_path=env_path, states=StateStore(clock=clock)
    )
    transport = httpx2.ASGITransport(app=Starlette(routes=routes))
    return httpx2.AsyncClient(transport=transport, base_url="http://relo.test")


@pytest.fixture
async def client(
    unconfigured: Settings, github_http: httpx2.AsyncClient, env_path: Path, clock: Clock
) -> AsyncIterator[httpx2.AsyncClient]:
    async with client_for(unconfigured, github_http, env_path, clock) as c:
        yield c


def form(page: str, form_id: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of one form on the page."""
    match = re.search(rf'<form id="{form_id}" method="post" action="([^"]*)">(.*?)</form>', page)
    assert match is not None, f"no form {form_id}"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', match[2]))
    return html.unescape(match[1]), {k: html.unescape(v) for k, v in fields.items()}


def text_of(path: Path) -> str:
    return path.read_text()


def write(path: Path, text: str) -> None:
    path.write_text(text)


def seed(fake: FakeGitHub, code: str, pem: str, **extra: Any) -> None:
    fake.manifest_codes[code] = {
        "id": 77,
        "slug": "relo-review-test",
        "pem": pem,
        "webhook_secret": "whsec-0123",
        **extra,
    }


async def start(client: httpx2.AsyncClient, **params: str) -> str:
    response = await client.get("/setup", params={"token": TOKEN, **params})
    assert response.status_code == 200
    return form(response.text, "register-personal")[1]["state"]


# --- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
        ("http://127.0.0.1:9999/api/v3", "http://127.0.0.1:9999"),
    ],
)
def test_web_url_follows_the_api_url(api: str, web: str) -> None:
    assert github_web_url(api) == web


def test_env_is_updated_in_place_keeping_other_lines() -> None:
    text = (
        '# top\nexport GITHUB_APP_ID=1\nGITHUB_PRIVATE_KEY="-----BEGIN\nabc\n-----END"\n'
        "OTHER=keep # note\n"
    )
    out = env_with(
        text,
        {"GITHUB_APP_ID": "77", "GITHUB_PRIVATE_KEY": "", "GITHUB_WEBHOOK_SECRET": 'a b"c'},
    )
    lines = out.splitlines()
    assert lines[:4] == ["# top", "GITHUB_APP_ID=77", "GITHUB_PRIVATE_KEY=", "OTHER=keep # note"]
    assert lines[-1] == 'GITHUB_WEBHOOK_SECRET="a b\\"c"' and lines[-2].startswith("# Written")
    values = dotenv_values(stream=io.StringIO(out))
    assert values == {
        "GITHUB_APP_ID": "77",
        "GITHUB_PRIVATE_KEY": "",
        "OTHER": "keep",
        "GITHUB_WEBHOOK_SECRET": 'a b"c',
    }


def test_an_unterminated_quote_does_not_swallow_the_file() -> None:
    out = env_with('GITHUB_APP_ID="1\nOTHER=2\n', {"GITHUB_APP_ID": "3"})
    assert out == "GITHUB_APP_ID=3\nOTHER=2\n"


def test_states_are_single_use_and_expire(clock: Clock) -> None:
    store = StateStore(clock=clock, limit=3)
    first, second = store.issue(), store.issue()
    assert store.consume(first) and not store.consume(first)
    clock.now += 3601
    assert not store.consume(second)
    issued = [store.issue() for _ in range(5)]
    assert not store.consume(issued[0]) and store.consume(issued[-1])  # oldest evicted


# --- the page ----------------------------------------------------------------------------------


async def test_setup_page_posts_the_manifest_to_github(client: httpx2.AsyncClient) -> None:
    response = await client.get("/setup", params={"token": TOKEN})
    assert response.status_code == 200
    assert "script-src" not in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    action, fields = form(response.text, "register-personal")
    assert action == "https://github.test/settings/apps/new"  # from GITHUB_API_URL
    manifest = json.loads(fields["manifest"])
    assert manifest["hook_attributes"] == {"url": "http://relo.test/webhook", "active": True}
    assert manifest["redirect_url"] == "http://relo.test/setup/callback"
    assert manifest["default_permissions"]["checks"] == "write"
    assert "pull_request" in manifest["default_events"] and manifest["url"]
    assert len(fields["state"]) >= 32
    assert 'id="register-org"' not in response.text and 'name="org"' in response.text


async def test_organisation_form_and_bad_names(client: httpx2.AsyncClient) -> None:
    page = (await client.get("/setup", params={"org": "acme-inc", "token": TOKEN})).text
    action, fields = form(page, "register-org")
    assert action == "https://github.test/organizations/acme-inc/settings/apps/new"
    assert json.loads(fields["manifest"])["redirect_url"].endswith("/setup/callback")
    # Choosing an organisation (a GET form) keeps the token, or the next page would be locked.
    assert f'<input type="hidden" name="token" value="{TOKEN}">' in page
    bad = (await client.get("/setup", params={"org": "<script>x</script>", "token": TOKEN})).text
    assert "<script>" not in bad and "&lt;script&gt;" in bad
    assert "is not a GitHub organisation name" in bad and 'id="register-org"' not in bad


async def test_enterprise_server_posts_to_its_own_host(
    make_settings: Callable[..., Settings], github_http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    settings = make_settings(
        github_app_id="",
        github_private_key=None,
        github_webhook_secret=None,
        github_api_url="https://ghe.example.com/api/v3",
        setup_token=TOKEN,
    )
    async with client_for(settings, github_http, tmp_path / ".env", Clock()) as c:
        page = (await c.get("/setup", params={"token": TOKEN})).text
    assert form(page, "register-personal")[0] == "https://ghe.example.com/settings/apps/new"


# --- the callback ----------------------------------------------------------------------------


async def test_callback_writes_env_and_key_then_locks(
    client: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    private_pem: str,
) -> None:
    state = await start(client)
    seed(fake_github, "c0de", private_pem, name="Relo <b>Review</b>")
    response = await client.get("/setup/callback", params={"code": "c0de", "state": state})
    assert response.status_code == 200, response.text
    page = response.text
    assert 'href="https://github.test/apps/relo-review/installations/new"' in page
    assert "Relo &lt;b&gt;Review&lt;/b&gt;" in page and "Restart the service" in page
    assert "whsec-0123" not in page and "PRIVATE KEY" not in page

    key_path = env_path.parent / "relo-review-test.private-key.pem"
    assert key_path.read_text() == private_pem
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    text = text_of(env_path)
    assert text.startswith("# Relo Review settings.\nGITHUB_APP_ID=77\n# the key, as a file\n")
    assert "OPENAI_MODEL=gpt-4o-mini\n" in text and text.count("GITHUB_APP_ID=") == 1
    values = dotenv_values(env_path)
    assert values["GITHUB_PRIVATE_KEY_PATH"] == str(key_path)
    assert values["GITHUB_WEBHOOK_SECRET"] == "whsec-0123"
    loaded = Settings(_env_file=env_path)  # type: ignore[call-arg]
    loaded.validate_for_service()
    assert loaded.github_app_configured and loaded.github_app_id == "77"

    # Registered: both pages now refuse and change nothing, even with a fresh valid code.
    refused = await client.get("/setup", params={"token": TOKEN})
    assert refused.status_code == 403 and "already has GitHub credentials" in refused.text
    assert 'name="manifest"' not in refused.text and 'name="state"' not in refused.text
    seed(fake_github, "again", private_pem, id=78)
    again = await client.get("/setup/callback", params={"code": "again", "state": state})
    assert again.status_code == 403 and "changes nothing" in again.text
    assert "again" in fake_github.manifest_codes
    assert text_of(env_path) == text


async def test_callback_creates_a_missing_env_file_private(
    unconfigured: Settings,
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    tmp_path: Path,
    private_pem: str,
) -> None:
    env = tmp_path / ".env"
    async with client_for(unconfigured, github_http, env, Clock()) as c:
        state = await start(c, org="acme")
        seed(fake_github, "c0de", private_pem)
        response = await c.get("/setup/callback", params={"code": "c0de", "state": state})
    assert response.status_code == 200
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert dotenv_values(env)["GITHUB_APP_ID"] == "77"


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({}, "start at /setup"),
        ({"code": "c0de"}, "start at /setup"),
        ({"code": "c0de", "state": "forged"}, "unknown, expired or already used"),
    ],
)
async def test_callback_refuses_unknown_states(
    client: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    private_pem: str,
    params: dict[str, str],
    sentence: str,
) -> None:
    await start(client)
    seed(fake_github, "c0de", private_pem)
    response = await client.get("/setup/callback", params=params)
    assert response.status_code == 400 and sentence in response.text
    assert not fake_github.requests and text_of(env_path) == EXISTING_ENV


async def test_callback_refuses_expired_and_reused_states(
    client: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    clock: Clock,
    private_pem: str,
) -> None:
    expired = await start(client)
    clock.now += 3601
    seed(fake_github, "c0de", private_pem)
    response = await client.get("/setup/callback", params={"code": "c0de", "state": expired})
    assert response.status_code == 400 and "expired" in response.text
    assert not fake_github.requests

    state = await start(client)
    response = await client.get("/setup/callback", params={"code": "nope", "state": state})
    assert response.status_code == 502 and "did not accept the registration code" in response.text
    assert text_of(env_path) == EXISTING_ENV
    reused = await client.get("/setup/callback", params={"code": "c0de", "state": state})
    assert reused.status_code == 400 and "already used" in reused.text


async def test_configured_app_changes_nothing(
    make_settings: Callable[..., Settings],
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    private_pem: str,
) -> None:
    settings = make_settings(setup_token=TOKEN)
    async with client_for(settings, github_http, env_path, Clock()) as c:
        page = await c.get("/setup", params={"token": TOKEN})
        assert page.status_code == 403 and "already has GitHub credentials" in page.text
        assert "<form" not in page.text and "4242" not in page.text
        seed(fake_github, "c0de", private_pem)
        response = await c.get("/setup/callback", params={"code": "c0de", "state": "x"})
    assert response.status_code == 403 and "changes nothing" in response.text
    assert not fake_github.requests and text_of(env_path) == EXISTING_ENV


# --- who may register: the setup token, and no setup once any credential exists ---------------


@pytest.mark.parametrize("query", [{}, {"token": ""}, {"token": "guess"}, {"token": TOKEN[:-1]}])
async def test_setup_without_the_token_is_locked(
    client: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    private_pem: str,
    query: dict[str, str],
) -> None:
    response = await client.get("/setup", params={**query, "org": "acme"})
    assert response.status_code == 403
    assert "one-time setup link" in response.text
    assert 'name="state"' not in response.text and 'name="manifest"' not in response.text
    assert TOKEN not in response.text
    # Without a state from the page, the callback writes nothing, whatever code it is given.
    seed(fake_github, "c0de", private_pem)
    callback = await client.get("/setup/callback", params={"code": "c0de", "state": "guess"})
    assert callback.status_code == 400
    assert not fake_github.requests and text_of(env_path) == EXISTING_ENV


async def test_no_configured_token_opens_nothing(
    make_settings: Callable[..., Settings], github_http: httpx2.AsyncClient, env_path: Path
) -> None:
    """setup_routes alone (no token made by `serve`, no SETUP_TOKEN) is a locked page."""
    settings = make_settings(github_app_id="", github_private_key=None, github_webhook_secret=None)
    async with client_for(settings, github_http, env_path, Clock()) as c:
        for params in ({}, {"token": ""}, {"token": "None"}):
            response = await c.get("/setup", params=params)
            assert response.status_code == 403 and 'name="state"' not in response.text


async def test_a_webhook_secret_alone_closes_setup(
    make_settings: Callable[..., Settings],
    github_http: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    private_pem: str,
) -> None:
    """The README's "only a webhook secret" start: nobody may write an app into .env."""
    settings = make_settings(github_app_id="", github_private_key=None, setup_token=TOKEN)
    async with client_for(settings, github_http, env_path, Clock()) as c:
        page = await c.get("/setup", params={"token": TOKEN})
        assert page.status_code == 403
        assert "<code>GITHUB_WEBHOOK_SECRET</code>" in page.text and 'name="state"' not in page.text
        seed(fake_github, "c0de", private_pem)
        response = await c.get("/setup/callback", params={"code": "c0de", "state": "x"})
    assert response.status_code == 403
    assert not fake_github.requests and text_of(env_path) == EXISTING_ENV


@pytest.mark.parametrize(
    "line",
    [
        "GITHUB_APP_ID=12",
        "GITHUB_PRIVATE_KEY_PATH=/srv/app.pem",
        'GITHUB_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----"',
        "GITHUB_WEBHOOK_SECRET=hand-written",
    ],
)
async def test_any_credential_written_meanwhile_closes_setup(
    client: httpx2.AsyncClient,
    fake_github: FakeGitHub,
    env_path: Path,
    private_pem: str,
    line: str,
) -> None:
    """A credential put in .env after the start (by hand, or by an earlier registration) closes
    both pages, even for a state issued before it."""
    state = await start(client)
    write(env_path, EXISTING_ENV + line + "\n")
    before = text_of(env_path)
    assert (await client.get("/setup", params={"token": TOKEN})).status_code == 403
    seed(fake_github, "c0de", private_pem)
    response = await client.get("/setup/callback", params={"code": "c0de", "state": state})
    assert response.status_code == 403 and line.split("=")[0] in response.text
    assert not fake_github.requests and text_of(env_path) == before


async def test_the_token_is_spent_by_one_registration(
    client: httpx2.AsyncClient, fake_github: FakeGitHub, env_path: Path, private_pem: str
) -> None:
    first, second = await start(client), await start(client)
    seed(fake_github, "c0de", private_pem)
    done = await client.get("/setup/callback", params={"code": "c0de", "state": first})
    assert done.status_code == 200
    write(env_path, EXISTING_ENV)  # even with the credentials taken out again
    assert (await client.get("/setup", params={"token": TOKEN})).status_code == 403
    seed(fake_github, "c0de-2", private_pem, id=78)
    again = await client.get("/setup/callback", params={"code": "c0de-2", "state": second})
    assert again.status_code == 403 and text_of(env_path) == EXISTING_ENV


def test_prepare_setup_makes_a_token_per_start_and_logs_it(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    blank = make_settings(github_app_id="", github_private_key=None, github_webhook_secret=None)
    env = tmp_path / ".env"
    first, link = prepare_setup(blank, env)
    assert first.setup_token is not None and blank.setup_token is None
    token = first.setup_token.get_secret_value()
    assert len(token) >= 32 and link == f"http://127.0.0.1:8000/setup?token={token}"
    second, _ = prepare_setup(blank, env)
    assert second.setup_token is not None and second.setup_token.get_secret_value() != token

    public = make_settings(
        github_app_id="",
        github_private_key=None,
        github_webhook_secret=None,
        setup_token="operator-chosen-token",
        public_url="https://relo.example.com/",
    )
    kept, link = prepare_setup(public, env)
    assert kept is public and link == "https://relo.example.com/setup?token=<SETUP_TOKEN>"

    assert prepare_setup(make_settings(github_app_id="", github_private_key=None), env)[1] is None
    env.write_text("GITHUB_APP_ID=5\n")
    assert prepare_setup(blank, env) == (blank, None)
