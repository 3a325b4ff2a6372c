"""POST /webhook: size cap, signature, dedupe, decide, store, enqueue, answer — in milliseconds.

The raw bytes are verified before anything parses them (app/webhook_body.py: a shared byte
budget, a read deadline, the HMAC updated per chunk); JSON is parsed once (orjson). Nothing here
calls GitHub or an LLM: accepted work is in the ledger before the 202 goes out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from gidgethub import sansio
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import logs
from app.config import Settings
from app.events import MAX_ID, Context, decide
from app.ledger import Delivery
from app.services import Services
from app.webhook_body import (
    BadSignature,
    BodyBudget,
    BodyRefused,
    BodyTimeout,
    BodyTooLarge,
    Disconnected,
    OverBudget,
    read_signed,
)

log = logging.getLogger(__name__)

# The deliveries counter's outcome for each refused body (bad_signature as before).
OUTCOMES: dict[type[BodyRefused], str] = {
    BodyRefused: "refused",
    BadSignature: "bad_signature",
    BodyTooLarge: "too_large",
    OverBudget: "over_budget",
    BodyTimeout: "body_timeout",
    Disconnected: "disconnected",
}


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def body_budget(request: Request, settings: Settings) -> BodyBudget:
    """The app's one budget, shared by all its requests (made at first use from the settings;
    a test may put its own on `app.state.webhook_budget` before the first request)."""
    state = request.app.state
    budget: BodyBudget | None = getattr(state, "webhook_budget", None)
    if budget is None:
        budget = state.webhook_budget = BodyBudget.for_settings(settings)
    return budget


def refused(exc: BodyRefused, settings: Settings) -> JSONResponse:
    """Answer and close the connection: the body may be unread, and the server would otherwise
    go on reading (and discarding) the rest of a stranger's body."""
    headers = {"connection": "close"}
    if isinstance(exc, OverBudget):
        headers["retry-after"] = str(max(1, math.ceil(settings.webhook_body_timeout_seconds)))
    return error(exc.status, exc.message, headers)


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """GitHub's X-Hub-Signature-256: `sha256=` + hex HMAC of the raw body, compared in constant
    time. The legacy SHA-1 header is not accepted."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("ascii", "replace"))


def parse_payload(content_type: str, body: bytes | bytearray) -> Any:
    """GitHub sends JSON, or a form with a `payload` field when the hook is set up that way."""
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
        values = fields.get("payload")
        if not values:
            raise ValueError("form body without a payload field")
        return orjson.loads(values[0])
    return orjson.loads(body)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _action(data: Mapping[str, Any]) -> str | None:
    return _text(data.get("action"))


def _installation(data: Mapping[str, Any]) -> int | None:
    installation = data.get("installation")
    ident = installation.get("id") if isinstance(installation, Mapping) else None
    if isinstance(ident, int) and not isinstance(ident, bool) and 0 < ident <= MAX_ID:
        return ident
    return None


def _repo(data: Mapping[str, Any]) -> str | None:
    repo = data.get("repository")
    return _text(repo.get("full_name")) if isinstance(repo, Mapping) else None


async def webhook(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    if not settings.webhook_secret:
        return error(
            503,
            "the app is not configured yet: set GITHUB_WEBHOOK_SECRET or open /setup",
            {"connection": "close"},
        )
    with body_budget(request, settings).hold() as hold:
        try:
            body = await read_signed(
                request,
                hold,
                secret=settings.webhook_secret,
                limit=settings.max_webhook_bytes,
                seconds=settings.webhook_body_timeout_seconds,
            )
        except BodyRefused as exc:
            services.metrics.delivery("unknown", OUTCOMES[type(exc)])
            return refused(exc, settings)
        event_name = request.headers.get("x-github-event", "").strip()
        delivery_id = request.headers.get("x-github-delivery", "").strip()
        if not event_name or not delivery_id:
            return error(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
        if len(delivery_id) > 64 or len(event_name) > 64:
            return error(400, "X-GitHub-Event or X-GitHub-Delivery header is too long")
        try:
            data = parse_payload(request.headers.get("content-type", "application/json"), body)
        except (ValueError, UnicodeDecodeError):
            return error(400, "body is not valid JSON (nor a form with a JSON `payload` field)")
        del body  # parsed: the bytes go back to the budget as the block ends
    if not isinstance(data, dict):
        return error(400, "body is not a JSON object")
    if event_name == "ping":
        services.metrics.delivery(event_name, "ping")
        return JSONResponse({"status": "pong"}, status_code=200)

    logs.delivery_id.set(delivery_id)
    received_at = datetime.now(UTC).isoformat()
    event = sansio.Event(data, event=event_name, delivery_id=delivery_id)
    context = Context(
        delivery_id=delivery_id, received_at=received_at,
        app_id=services.settings.github_app_id or None,
    )
    decision = await decide(event, context)
    reason = decision.reason[:200] or "ignored"
    outcome = f"queued {len(decision.jobs)}" if decision.jobs else reason
    delivery = Delivery(
        delivery_id=delivery_id,
        event=event_name,
        action=_action(data),
        installation_id=_installation(data),
        repo=_repo(data),
        outcome=outcome,
        jobs=decision.jobs,
    )
    try:
        review_ids = await services.intake.accept(delivery)
    except (SQLAlchemyError, OSError, RuntimeError) as exc:
        log.error("delivery %s: could not be recorded: %s", delivery_id, type(exc).__name__)
        return error(503, "the ledger is unavailable; GitHub can redeliver this later")
    if review_ids is None:
        services.metrics.delivery(event_name, "duplicate")
        log.info("delivery %s: already accepted, ignored", delivery_id)
        return JSONResponse({"status": "duplicate"}, status_code=200)
    for review_id in review_ids:
        await services.queue.enqueue(review_id)
    for run in decision.finished_runs:  # a grader run finished: its waiting review resumes
        try:
            woken = await services.store.wake(run.correlation, grader_repo=run.repo)
        except (SQLAlchemyError, OSError) as exc:
            log.error("delivery %s: could not wake reviews: %s", delivery_id, type(exc).__name__)
            return error(503, "the ledger is unavailable; GitHub can redeliver this later")
        for review_id in woken:
            await services.queue.enqueue(review_id)
    if not review_ids:
        services.metrics.delivery(event_name, "ignored")
        log.info("delivery %s: %s %s: %s", delivery_id, event_name, _action(data), outcome)
        return JSONResponse({"status": "ignored", "reason": outcome}, status_code=202)
    services.metrics.delivery(event_name, "queued")
    log.info("delivery %s: %s queued reviews %s", delivery_id, event_name, review_ids)
    return JSONResponse({"status": "queued", "reviews": review_ids}, status_code=202)
