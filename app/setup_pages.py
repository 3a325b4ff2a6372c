"""The HTML of /setup: no JavaScript, everything shown escaped, nothing secret shown.

The setup token appears only in the organisation form of a page served to someone who already
presented it, so that choosing an organisation keeps the page open for them.
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5}code{background:#f3f3f3;padding:0 .2em}button{font-size:1rem;"
    "padding:.4em 1em}.error{color:#a00}form{margin:1em 0}"
    ".warning{background:#fff3cd;border:2px solid #a00;padding:.6em 1em}"
)


def page(title: str, body: str, status: int, form_origin: str) -> HTMLResponse:
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
        "referrer-policy": "no-referrer",  # the URLs carry the setup token and GitHub's code
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    return HTMLResponse(document, status_code=status, headers=headers)


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def registration_forms(
    web: str, manifest: str, state: str, org: str | None, error: str, token: str
) -> str:
    hidden = (
        f'<input type="hidden" name="manifest" value="{e(manifest)}">'
        f'<input type="hidden" name="state" value="{e(state)}">'
    )
    parts = [
        "<h2>On your personal account</h2>",
        f'<form id="register-personal" method="post" action="{e(web)}/settings/apps/new">'
        f'{hidden}<button type="submit">Register on my account</button></form>',
        "<h2>On an organisation</h2>",
    ]
    if org is not None:
        action = f"{web}/organizations/{org}/settings/apps/new"
        parts.append(
            f'<form id="register-org" method="post" action="{e(action)}">{hidden}'
            f'<button type="submit">Register on {e(org)}</button></form>'
        )
    if error:
        parts.append(f'<p class="error">{e(error)}</p>')
    parts.append(
        '<form id="choose-org" method="get" action="">'
        f'<input type="hidden" name="token" value="{e(token)}"><label>Organisation name '
        f'<input name="org" value="{e(org or "")}" maxlength="39" required '
        'pattern="[A-Za-z0-9](-?[A-Za-z0-9])*" autocomplete="off"></label> '
        '<button type="submit">Continue</button></form>'
    )
    return "\n".join(parts)


def refused_page(
    credentials: Sequence[str], web: str, *, install: str | None = None, loaded: bool = False
) -> HTMLResponse:
    """403: set up already. Once the settings are `loaded` (or this start registered the app,
    and knows its `install` link) the next step is installing it, not a restart."""
    names = ", ".join(f"<code>{e(name)}</code>" for name in credentials)
    body = (
        f"<p>Relo Review already has GitHub credentials ({names} in its settings or "
        "<code>.env</code>), so this page registers nothing and changes nothing.</p>"
    )
    if install is not None:
        body += (
            f'<p><a id="install" href="{e(install)}">Install the app</a> on your organisation '
            "(or on chosen repositories) if you have not yet.</p>"
        )
    elif loaded:
        body += (
            "<p>Its settings are loaded. Install the app from its page on GitHub (Settings, "
            "Developer settings, GitHub Apps, the app, Install App) if you have not yet.</p>"
        )
    body += (
        "<p>To register a different app, remove <code>GITHUB_APP_ID</code>, "
        "<code>GITHUB_PRIVATE_KEY</code>, <code>GITHUB_PRIVATE_KEY_PATH</code> and "
        "<code>GITHUB_WEBHOOK_SECRET</code> from <code>.env</code> and the environment, then "
        "restart the service and open the setup link it logs."
    )
    if install is None and not loaded:
        body += " If the service was just registered, restart it to load the new settings."
    body += "</p>"
    return page("Relo Review is already set up", body, 403, web)


def unreachable_warning(base: str) -> str:
    """A warning when GitHub cannot reach `base` (loopback or a private network), else ""."""
    host = (urlsplit(base).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        private = True
    else:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return ""  # a name: only DNS knows, and GitHub's view of it may differ from ours
        private = address.is_loopback or address.is_private or address.is_link_local
    if not private:
        return ""
    return (
        f'<p class="warning" id="unreachable"><strong>GitHub cannot reach {e(base)}</strong>: it '
        "is a loopback or private address, so deliveries will never arrive. Set "
        "<code>PUBLIC_URL</code> to an address GitHub can reach (a tunnel such as smee.io or "
        "ngrok during development), restart the service and reload this page.</p>"
    )


def requested_access(manifest: Mapping[str, Any]) -> str:
    """The permissions and events the manifest asks GitHub for, shown before registering."""
    permissions = manifest.get("default_permissions") or {}
    events = manifest.get("default_events") or []
    items = "".join(
        f"<li><code>{e(name)}</code>: {e(level)}</li>" for name, level in permissions.items()
    )
    listed = ", ".join(f"<code>{e(event)}</code>" for event in events)
    return (
        f'<h2>What the app asks for</h2><ul id="permissions">{items}</ul>'
        f'<p id="events">Events it subscribes to: {listed or "none"}.</p>'
    )


def locked_page(web: str) -> HTMLResponse:
    body = (
        '<p class="error">This page needs the one-time setup link that the service logs when '
        "it starts (<code>/setup?token=…</code>), or the <code>SETUP_TOKEN</code> it was "
        "configured with. Ask whoever runs the service for it.</p>"
    )
    return page("Setup link required", body, 403, web)


def error_page(sentence: str, status: int, web: str) -> HTMLResponse:
    body = (
        f'<p class="error">{e(sentence)}</p>'
        "<p>Start again from the setup link in the service's log.</p>"
    )
    return page("Registration did not finish", body, status, web)


def install_url(web: str, app: Mapping[str, Any]) -> str:
    html_url = str(app.get("html_url") or "")
    if not html_url.startswith(("https://", "http://")):
        html_url = f"{web}/apps/{app.get('slug', '')}"
    return f"{html_url.rstrip('/')}/installations/new"


def done_page(app: Mapping[str, Any], env_path: Path, key_path: Path, web: str) -> HTMLResponse:
    install = install_url(web, app)
    body = (
        f"<p>GitHub created the app <strong>{e(app.get('name') or app.get('slug') or '')}"
        f"</strong> (id {e(app['id'])}). Its id and webhook secret were written to "
        f"<code>{e(env_path)}</code>, and its private key to <code>{e(key_path)}</code> "
        "(readable by this user only).</p>"
        "<h2>Next steps</h2><ol>"
        f'<li><a id="install" href="{e(install)}">Install the app</a> on your organisation '
        "(or on chosen repositories).</li>"
        "<li>Restart the service so that it loads the new settings "
        "(stop it, then <code>make backend.run</code> or your process manager's restart).</li>"
        "<li>Put the assignment config in the organisation's <code>.github</code> repository "
        "(<code>.github/assignment-review.yml</code>) and check it with "
        "<code>python -m app check-config FILE</code>.</li></ol>"
    )
    return page("Relo Review is registered", body, 200, web)


def home_page(registered: bool, has_secret: bool) -> HTMLResponse:
    """`GET /`: what to do next, for whoever opens the service's address in a browser."""
    if registered:
        body = (
            "<p>Relo Review is running. GitHub sends deliveries to <code>/webhook</code>; "
            'readiness is at <a href="/readyz">/readyz</a> and metrics at '
            '<a href="/metrics">/metrics</a>.</p>'
        )
        return page("Relo Review is running", body, 200, "'self'")
    if has_secret:
        body = (
            "<p>Relo Review is running, but the GitHub App is not configured: "
            "<code>GITHUB_WEBHOOK_SECRET</code> is set while <code>GITHUB_APP_ID</code> and "
            "a private key are not. Fill them in <code>.env</code> and restart the service; "
            "until then deliveries are recorded but not reviewed.</p>"
        )
        return page("Relo Review is not set up yet", body, 200, "'self'")
    body = (
        '<p>Relo Review is running but not registered on GitHub yet. Open the '
        '<a id="setup" href="/setup">setup page</a> with the one-time link the service wrote '
        "to its log when it started (<code>/setup?token=…</code>), or the "
        "<code>SETUP_TOKEN</code> it was configured with.</p>"
    )
    return page("Relo Review is not set up yet", body, 200, "'self'")
