"""Registering the GitHub App in one click: GitHub's manifest flow.

`GET /setup` serves a page whose form posts `manifest.yml` (with this service's own webhook and
redirect URLs filled in) and a one-time `state` to GitHub. GitHub creates the app and sends the
browser back to `GET /setup/callback?code=…&state=…`; the code is exchanged for the app's id,
private key and webhook secret, which are written to `.env` (the key to its own file, mode 600).
Once the app is configured, both pages say so and change nothing.

The pages use no JavaScript; everything shown is escaped, and nothing secret is ever shown.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx2
import yaml
from dotenv import dotenv_values
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from app.config import Settings

log = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "manifest.yml"
STATE_TTL_SECONDS = 3600.0  # GitHub: the whole flow must finish within one hour
MAX_STATES = 1000
_ORG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
_ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./:@+,-]*")


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


def _quote_env(value: str) -> str:
    if _PLAIN_VALUE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _closes(text: str, quote_char: str) -> bool:
    """Whether `text` holds an unescaped `quote_char` (the end of a quoted value)."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quote_char == '"':
            escaped = True
        elif char == quote_char:
            return True
    return False


def env_with(text: str, values: Mapping[str, str]) -> str:
    """`text` (a .env file) with each key in `values` set in place; other lines and comments are
    kept, multi-line quoted values of replaced keys are replaced whole, missing keys appended."""
    lines = text.splitlines()
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(lines):
        match = _ENV_LINE.fullmatch(lines[i])
        if match is None or match.group(1) not in values:
            out.append(lines[i])
            i += 1
            continue
        key, rest = match.group(1), match.group(2)
        if rest[:1] in ("'", '"') and not _closes(rest[1:], rest[0]):
            end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], rest[0])), i)
            i = end
        out.append(f"{key}={_quote_env(values[key])}")
        seen.add(key)
        i += 1
    missing = [key for key in values if key not in seen]
    if missing:
        if out and out[-1].strip():
            out.append("")
        out.append(f"# Written by /setup on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
        out += [f"{key}={_quote_env(values[key])}" for key in missing]
    return "\n".join(out) + "\n"


def _write_atomic(path: Path, data: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_registration(env_path: Path, app: Mapping[str, Any]) -> Path:
    """Write the key file (mode 600) beside .env, then the three settings into .env."""
    env_path = env_path.resolve()
    slug = re.sub(r"[^A-Za-z0-9_.-]", "-", str(app.get("slug") or "")).strip(".-") or "github-app"
    key_path = env_path.parent / f"{slug}.private-key.pem"
    _write_atomic(key_path, str(app["pem"]), 0o600)
    existing = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    mode = env_path.stat().st_mode & 0o777 if env_path.exists() else 0o600
    values = {
        "GITHUB_APP_ID": str(app["id"]),
        "GITHUB_PRIVATE_KEY_PATH": str(key_path),
        "GITHUB_WEBHOOK_SECRET": str(app["webhook_secret"]),
    }
    if dotenv_values(stream=io.StringIO(existing)).get("GITHUB_PRIVATE_KEY"):
        values["GITHUB_PRIVATE_KEY"] = ""  # one key source only: the new key file wins
    _write_atomic(env_path, env_with(existing, values), mode)
    return key_path


def registered_app_id(settings: Settings, env_path: Path) -> str | None:
    """The app id already set in the running settings or in .env, if any."""
    if settings.github_app_configured:
        return settings.github_app_id
    try:
        value = dotenv_values(env_path).get("GITHUB_APP_ID") if env_path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None  # unreadable: writing it will fail too, and say so
    return value or None


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


# --- pages -----------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}code{background:#f3f3f3;padding:0 .2em}button{font-size:1rem;"
    "padding:.4em 1em}.error{color:#a00}form{margin:1em 0}"
)


def _page(title: str, body: str, status: int, form_origin: str) -> HTMLResponse:
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action 'self' {form_origin}"
    )
    document = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
    headers = {
        "content-security-policy": csp,
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",  # the callback URL carries the code
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    return HTMLResponse(document, status_code=status, headers=headers)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _registration_forms(web: str, manifest: str, state: str, org: str | None, error: str) -> str:
    hidden = (
        f'<input type="hidden" name="manifest" value="{_e(manifest)}">'
        f'<input type="hidden" name="state" value="{_e(state)}">'
    )
    parts = [
        "<h2>On your personal account</h2>",
        f'<form id="register-personal" method="post" action="{_e(web)}/settings/apps/new">'
        f'{hidden}<button type="submit">Register on my account</button></form>',
        "<h2>On an organisation</h2>",
    ]
    if org is not None:
        action = f"{web}/organizations/{org}/settings/apps/new"
        parts.append(
            f'<form id="register-org" method="post" action="{_e(action)}">{hidden}'
            f'<button type="submit">Register on {_e(org)}</button></form>'
        )
    if error:
        parts.append(f'<p class="error">{_e(error)}</p>')
    parts.append(
        '<form id="choose-org" method="get" action=""><label>Organisation name '
        f'<input name="org" value="{_e(org or "")}" maxlength="39" required '
        'pattern="[A-Za-z0-9](-?[A-Za-z0-9])*" autocomplete="off"></label> '
        '<button type="submit">Continue</button></form>'
    )
    return "\n".join(parts)


def _configured_page(app_id: str, web: str) -> HTMLResponse:
    body = (
        f"<p>Relo Review is already registered as GitHub App <strong>{_e(app_id)}</strong>. "
        "Nothing was changed.</p><p>To register a different app, remove "
        "<code>GITHUB_APP_ID</code>, <code>GITHUB_PRIVATE_KEY_PATH</code> and "
        "<code>GITHUB_WEBHOOK_SECRET</code> from <code>.env</code> and restart the service. "
        "If the service was just registered, restart it to load the new settings.</p>"
    )
    return _page("Relo Review is registered", body, 200, web)


def _error_page(sentence: str, status: int, web: str) -> HTMLResponse:
    body = f'<p class="error">{_e(sentence)}</p><p><a href="/setup">Start again</a></p>'
    return _page("Registration did not finish", body, status, web)


def _done_page(app: Mapping[str, Any], env_path: Path, key_path: Path, web: str) -> HTMLResponse:
    html_url = str(app.get("html_url") or "")
    if not html_url.startswith(("https://", "http://")):
        html_url = f"{web}/apps/{app.get('slug', '')}"
    install = f"{html_url.rstrip('/')}/installations/new"
    body = (
        f"<p>GitHub created the app <strong>{_e(app.get('name') or app.get('slug') or '')}"
        f"</strong> (id {_e(app['id'])}). Its id and webhook secret were written to "
        f"<code>{_e(env_path)}</code>, and its private key to <code>{_e(key_path)}</code> "
        "(readable by this user only).</p>"
        "<h2>Next steps</h2><ol>"
        f'<li><a id="install" href="{_e(install)}">Install the app</a> on your organisation '
        "(or on chosen repositories).</li>"
        "<li>Restart the service so that it loads the new settings "
        "(stop it, then <code>make backend.run</code> or your process manager's restart).</li>"
        "<li>Put the assignment config in the organisation's <code>.github</code> repository "
        "(<code>.github/assignment-review.yml</code>) and check it with "
        "<code>python -m app check-config FILE</code>.</li></ol>"
    )
    return _page("Relo Review is registered", body, 200, web)


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

    def base_url(request: Request) -> str:
        public = settings.public_url
        if isinstance(public, str) and public:
            return public.rstrip("/")
        return str(request.base_url).rstrip("/")

    async def setup_page(request: Request) -> HTMLResponse:
        app_id = await asyncio.to_thread(registered_app_id, settings, env_path)
        if app_id is not None:
            return _configured_page(app_id, web)
        try:
            template = await asyncio.to_thread(load_manifest, manifest_path)
        except SetupError as exc:
            return _error_page(str(exc), exc.status, web)
        base = base_url(request)
        manifest = json.dumps(build_manifest(template, base), separators=(",", ":"))
        org = request.query_params.get("org", "").strip() or None
        error = ""
        if org is not None and not _ORG.fullmatch(org):
            error = f"{org[:60]!r} is not a GitHub organisation name (letters, digits, hyphens)."
            org = None
        body = (
            "<p>This registers Relo Review as a GitHub App from <code>manifest.yml</code>. "
            f"GitHub will send webhooks to <code>{_e(base)}/webhook</code> and bring you back "
            f"to <code>{_e(base)}/setup/callback</code>; if GitHub cannot reach that address, "
            "set <code>PUBLIC_URL</code> and reload this page. Complete the registration "
            "within one hour.</p>\n" + _registration_forms(web, manifest, store.issue(), org, error)
        )
        return _page("Register Relo Review on GitHub", body, 200, web)

    async def callback(request: Request) -> HTMLResponse:
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        async with lock:
            app_id = await asyncio.to_thread(registered_app_id, settings, env_path)
            if app_id is not None:
                return _configured_page(app_id, web)
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
                return _error_page(str(exc), exc.status, web)
            try:
                key_path = await asyncio.to_thread(save_registration, env_path, app)
            except OSError as exc:
                log.error("GitHub App %s created but .env could not be written: %s", app["id"], exc)
                sentence = (
                    f"GitHub created the app (id {app['id']}) but its settings could not be "
                    f"written to {env_path} ({exc.strerror or exc}). Generate a new "
                    "private key in the app's settings on GitHub and fill in .env by hand."
                )
                return _error_page(sentence, 500, web)
        log.info("GitHub App %s registered; settings written to %s", app["id"], env_path)
        return _done_page(app, env_path, key_path, web)

    return [
        Route("/setup", setup_page, methods=["GET"], name="setup"),
        Route("/setup/callback", callback, methods=["GET"], name="setup_callback"),
    ]
