"""`python -m app replay PAYLOAD.json --event NAME`: sign a payload with the configured webhook
secret, exactly as GitHub signs deliveries, and POST it to the service, for trying it locally."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import re
import uuid
from pathlib import Path

import httpx2

from app.cli import CLIError, Progress, Subcommands
from app.config import Settings, load_settings

_EVENT = re.compile(r"[a-z][a-z_]{0,63}")


def add_parser(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "replay", help="sign a webhook payload and deliver it to the service", description=__doc__
    )
    parser.add_argument("payload", type=Path, help="a JSON file, e.g. a payload GitHub delivered")
    parser.add_argument(
        "--event", required=True, metavar="NAME", help="the X-GitHub-Event, e.g. pull_request"
    )
    parser.add_argument("--url", help="where to POST (default: http://HOST:PORT/webhook)")
    parser.add_argument(
        "--delivery", metavar="ID", help="the X-GitHub-Delivery id (default: a new UUID)"
    )
    parser.set_defaults(run=run)


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def default_url(settings: Settings) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/webhook"


def headers_for(event: str, delivery: str, body: bytes, secret: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/relo-replay",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": signature(secret, body),
    }


def read_payload(path: Path) -> bytes:
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise CLIError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        json.loads(body)
    except ValueError as exc:
        raise CLIError(f"{path}: is not JSON ({exc}).") from None
    return body


async def deliver(url: str, body: bytes, headers: dict[str, str]) -> httpx2.Response:
    try:
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, connect=10)) as client:
            return await client.post(url, content=body, headers=headers)
    except httpx2.InvalidURL as exc:
        raise CLIError(f"{url} is not a valid URL ({exc}).") from None
    except httpx2.HTTPError as exc:
        raise CLIError(f"{url} could not be reached ({exc or type(exc).__name__}).", 1) from None


def run(args: argparse.Namespace) -> int:
    if not _EVENT.fullmatch(args.event):
        raise CLIError(f"{args.event!r} is not a GitHub event name (e.g. pull_request, push).")
    settings = load_settings()
    secret = settings.webhook_secret
    if not secret:
        raise CLIError("GITHUB_WEBHOOK_SECRET is not set, so there is nothing to sign with.")
    body = read_payload(args.payload)
    url = args.url or default_url(settings)
    if not url.startswith(("http://", "https://")):
        raise CLIError(f"{url} is not an http(s) URL.")
    delivery = args.delivery or str(uuid.uuid4())
    with Progress() as progress:
        progress.step(f"Delivering {args.event} to {url}")
        response = asyncio.run(deliver(url, body, headers_for(args.event, delivery, body, secret)))
    print(f"{response.status_code} {response.reason_phrase} (delivery {delivery})")
    try:
        answer = response.json()
    except ValueError:
        if response.text:
            print(response.text)
    else:
        print(json.dumps(answer, indent=2))
    return 0 if response.is_success else 1
