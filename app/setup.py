"""Registering the GitHub App in one click: GitHub's manifest flow, open only to the operator.

`GET /setup?token=…` serves a page whose form posts `manifest.yml` (with this service's own
webhook and redirect URLs filled in) and a one-time `state` to GitHub. GitHub creates the app and
sends the browser back to `GET /setup/callback?code=…&state=…`; the code is exchanged for the
app's id, private key and webhook secret, which are written to `.env` (the key to its own file,
mode 600).

Whoever completes this flow decides which GitHub App the service trusts, so it is guarded the
way self-hosted tools guard first-run setup: the page needs a token that `python -m app serve`
makes at start and logs (or SETUP_TOKEN), compared in constant time; states are issued only to
holders of the token; and both pages refuse with 403 once any GitHub credential exists (app id,
private key or webhook secret, in the settings or in `.env`). After one registration the token
is spent until the next start.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
import yaml
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from app.config import Settings
from app.setup_env import EnvUnreadable, credentials_in, save_registration
from app.setup_pages import (
    done_page,
    e,
    error_page,
    install_url,
    locked_page,
    page,
    refused_page,
    registration_forms,
    requested_access,
    unreachable_warning,
)

log = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "manifest.yml"
STATE_TTL_SECONDS = 3600.0  # GitHub: the whole flow must finish within one hour
MAX_STATES = 1000
_ORG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")


class SetupError(Exception):
    """The flow cannot go on; the message is a sentence for the person in the browser."""

    def __init__(self, sentence: str, status: int = 400) -> None:
        super().__init__(sentence)
        self.status = status


# --- pure helpers ----------------------------------------------------------------------------


def github_web_url(api_url: str) -> str:
    """Where people (not programs) go: github.com, or a GitHub Enterprise host's own root."""
    api = api_url.rstrip("/")
    parts = urlsplit(api)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    if parts.path.endswith("/api/v3"):
        return f"{parts.scheme}://{parts.netloc}{parts.path[: -len('/api/v3')]}"
    host = parts.netloc.removeprefix("api.")  # GHE.com data residency: api.SUB.ghe.com
    return f"{parts.scheme}://{host}"


def build_manifest(template: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """manifest.yml with the webhook and redirect URLs pointing at this service."""
    base = base_url.rstrip("/")
    manifest = dict(template)
    hook = dict(manifest.get("hook_attributes") or {})
    hook["url"] = f"{base}/webhook"
    hook.setdefault("active", True)
    manifest["hook_attributes"] = hook
    manifest["redirect_url"] = f"{base}/setup/callback"
    return manifest


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SetupError(f"The app manifest {path} cannot be read ({exc}).", 500) from exc
    if not isinstance(data, dict):
        raise SetupError(f"The app manifest {path} is not a mapping.", 500)
    return data


def token_matches(expected: SecretStr | None, given: str) -> bool:
    """Constant-time check of the setup token; no token configured opens nothing."""
    if expected is None or not expected.get_secret_value():
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def prepare_setup(settings: Settings, env_path: Path) -> tuple[Settings, str | None]:
    """For `serve`: the settings to run with (carrying a setup token when setup is open) and the
    setup link to log, or None when any GitHub credential exists and /setup is closed.

    A token the operator set (SETUP_TOKEN) is kept and not logged; otherwise a new one is made
    for this start only."""
    try:
        if credentials_in(settings, env_path):
            return settings, None
    except EnvUnreadable:
        return settings, None
    base = f"http://{settings.host}:{settings.port}"
    if settings.public_url:
        base = settings.public_url.rstrip("/")
    if settings.setup_token is not None and settings.setup_token.get_secret_value():
        return settings, f"{base}/setup?token=<SETUP_TOKEN>"
    token = secrets.token_urlsafe(32)
    with_token = settings.model_copy(update={"setup_token": SecretStr(token)})
    return with_token, f"{base}/setup?token={token}"


class StateStore:
    """One-time `state` values, kept in memory for one hour (the manifest flow's own limit)."""

    def __init__(
        self,
        ttl: float = STATE_TTL_SECONDS,
        limit: int = MAX_STATES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl, self._limit, self._clock = ttl, limit, clock
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        now = self._clock()
        self._expiry = {s: t for s, t in self._expiry.items() if t > now}
        while len(self._expiry) >= self._limit:
            self._expiry.pop(next(iter(self._expiry)))
        state = secrets.token_urlsafe(32)
        self._expiry[state] = now + self._ttl
        return state

    def consume(self, state: str) -> bool:
        expires = self._expiry.pop(state, None)
        return expires is not None and expires > self._clock()


async def exchange_code(http: httpx2.AsyncClient, api_url: str, code: str) -> dict[str, Any]:
    """`POST /app-manifests/{code}/conversions` (no authentication): the new app and its secrets."""
    url = f"{api_url.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    headers = {
        "accept": "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "relo-review-setup",
    }
    try:
        response = await http.post(url, headers=headers)
    except httpx2.HTTPError as exc:
        raise SetupError(f"GitHub could not be reached at {api_url} ({exc}).", 502) from exc
    if response.status_code != 201:
        raise SetupError(
            f"GitHub did not accept the registration code (HTTP {response.status_code}); codes "
            "work once and for one hour.",
            502,
        )
    try:
        app = response.json()
    except ValueError as exc:
        raise SetupError("GitHub's answer to the code exchange was not JSON.", 502) from exc
    if not isinstance(app, dict) or not all(app.get(k) for k in ("id", "pem", "webhook_secret")):
        raise SetupError("GitHub's answer to the code exchange lacks the app's credentials.", 502)
    return app


# --- routes ----------------------------------------------------------------------------------


def setup_routes(
    settings: Settings,
    *,
    http: httpx2.AsyncClient | None = None,
    env_path: Path = Path(".env"),
    manifest_path: Path = MANIFEST_PATH,
    states: StateStore | None = None,
) -> list[BaseRoute]:
    """`GET /setup` and `GET /setup/callback`, bound to these settings and this .env file."""
    web = github_web_url(settings.github_api_url)
    env_path = env_path.resolve()
    store = states or StateStore()
    lock = asyncio.Lock()
    spent = False  # one registration per start: the token opens nothing after it
    installed_from: str | None = None  # the install link of the app this start registered

    def install_link() -> str | None:
        if installed_from is not None:
            return installed_from
        key = settings.github_private_key_path
        suffix = ".private-key.pem"  # save_registration names the key after the app's slug
        if settings.github_app_configured and key is not None and key.name.endswith(suffix):
            return install_url(web, {"slug": key.name[: -len(suffix)]})
        return None

    def base_url(request: Request) -> str:
        public = settings.public_url
        if isinstance(public, str) and public:
            return public.rstrip("/")
        return str(request.base_url).rstrip("/")

    async def closed() -> HTMLResponse | None:
        """The refusal when credentials exist (or cannot be ruled out), else None."""
        try:
            present = await asyncio.to_thread(credentials_in, settings, env_path)
        except EnvUnreadable:
            sentence = (
                f"{env_path} cannot be read, so the service cannot tell whether it is set up."
            )
            return error_page(sentence, 500, web)
        if present or spent:
            return refused_page(
                present or ["GITHUB_APP_ID"], web,
                install=install_link(), loaded=settings.github_app_configured,
            )
        return None

    async def setup_page(request: Request) -> HTMLResponse:
        refusal = await closed()
        if refusal is not None:
            return refusal
        token = request.query_params.get("token", "")
        if not token_matches(settings.setup_token, token):
            log.warning("/setup refused a request without the setup token")
            return locked_page(web)
        try:
            template = await asyncio.to_thread(load_manifest, manifest_path)
        except SetupError as exc:
            return error_page(str(exc), exc.status, web)
        base = base_url(request)
        manifest = json.dumps(build_manifest(template, base), separators=(",", ":"))
        org = request.query_params.get("org", "").strip() or None
        error = ""
        if org is not None and not _ORG.fullmatch(org):
            error = f"{org[:60]!r} is not a GitHub organisation name (letters, digits, hyphens)."
            org = None
        forms = registration_forms(web, manifest, store.issue(), org, error, token)
        body = (
            unreachable_warning(base)
            + "<p>This registers Relo Review as a GitHub App from <code>manifest.yml</code>. "
            f"GitHub will send webhooks to <code>{e(base)}/webhook</code> and bring you back "
            f"to <code>{e(base)}/setup/callback</code>; if GitHub cannot reach that address, "
            "set <code>PUBLIC_URL</code> and reload this page. Complete the registration "
            "within one hour.</p>\n" + requested_access(template) + forms
        )
        return page("Register Relo Review on GitHub", body, 200, web)

    async def callback(request: Request) -> HTMLResponse:
        nonlocal spent, installed_from
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        async with lock:
            refusal = await closed()
            if refusal is not None:
                return refusal
            try:
                if not code or not state:
                    raise SetupError(
                        "This page is where GitHub sends you back after registering the app; "
                        "start at /setup."
                    )
                if not store.consume(state):
                    raise SetupError(
                        "This registration link is unknown, expired or already used (links "
                        "last one hour); start again at /setup."
                    )
                if not _CODE.fullmatch(code):
                    raise SetupError("The code GitHub sent back is malformed; start again.")
                if http is None:
                    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, connect=10)) as c:
                        app = await exchange_code(c, settings.github_api_url, code)
                else:
                    app = await exchange_code(http, settings.github_api_url, code)
            except SetupError as exc:
                return error_page(str(exc), exc.status, web)
            spent = True  # GitHub made an app for this flow: no second one from this start
            installed_from = install_url(web, app)
            try:
                key_path = await asyncio.to_thread(save_registration, env_path, app)
            except OSError as exc:
                log.error("GitHub App %s created but .env could not be written: %s", app["id"], exc)
                sentence = (
                    f"GitHub created the app (id {app['id']}) but its settings could not be "
                    f"written to {env_path} ({exc.strerror or exc}). Generate a new "
                    "private key in the app's settings on GitHub and fill in .env by hand."
                )
                return error_page(sentence, 500, web)
        log.info("GitHub App %s registered; settings written to %s", app["id"], env_path)
        return done_page(app, env_path, key_path, web)

    return [
        Route("/setup", setup_page, methods=["GET"], name="setup"),
        Route("/setup/callback", callback, methods=["GET"], name="setup_callback"),
    ]
