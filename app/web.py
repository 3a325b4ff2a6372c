"""The Starlette application: routes, and a lifespan that builds (through app.compose) or is
given the web process's services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx2
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.compose import ReviewerFactory, running_services
from app.config import Settings
from app.metrics import Metrics
from app.queue_age import oldest_queued_age
from app.redis_errors import REDIS_ERRORS
from app.services import Services
from app.setup import setup_routes
from app.setup_pages import home_page
from app.webhook import webhook

log = logging.getLogger(__name__)

QUEUE_ERRORS: tuple[type[Exception], ...] = (OSError, *REDIS_ERRORS)
ROUTES = ("/", "/webhook", "/healthz", "/readyz", "/metrics", "/setup", "/setup/callback")


class CountResponses:
    """Counts every response by route and status (relo_http_responses_total): a /webhook
    answering 5xx loses deliveries, and the ReloWebhook5xx alert watches for it."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], Metrics | None]) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = 500  # what the server answers when the app fails before responding

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                metrics.http_responses.labels(route=route, status=str(status)).inc()


async def home(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return home_page(settings.github_app_configured, bool(settings.webhook_secret))


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await services.ledger.ping()
    except (OSError, SQLAlchemyError) as exc:
        return JSONResponse(
            {"status": "unavailable", "ledger": type(exc).__name__}, status_code=503
        )
    try:
        depth = await services.queue.size()
    except QUEUE_ERRORS as exc:
        return JSONResponse(
            {"status": "unavailable", "queue": type(exc).__name__}, status_code=503
        )
    down = services.queue.health()
    services.metrics.loops_down.set(len(down))
    if down:
        return JSONResponse(
            {"status": "unavailable", "workers": down, "queue_depth": depth}, status_code=503
        )
    return JSONResponse({"status": "ready", "queue_depth": depth})


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    with contextlib.suppress(*QUEUE_ERRORS):
        services.metrics.queue_depth.set(await services.queue.size())
    with contextlib.suppress(OSError, SQLAlchemyError):
        age = await oldest_queued_age(services.ledger, datetime.now(UTC))
        services.metrics.queue_oldest_age.set(age)
    services.metrics.loops_down.set(len(services.queue.health()))
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 answers, in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    http: httpx2.AsyncClient | None = None,
    reviewers: ReviewerFactory | None = None,
) -> Starlette:
    """The ASGI app. Given `services`, it uses them as they are (tests own their lifetime)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        async with running_services(settings, http=http, reviewers=reviewers) as built:
            app.state.services = built
            yield

    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            Route("/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *setup_routes(settings, http=http),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    app.state.settings = settings
    if services is not None:
        app.state.services = services

    def current_metrics() -> Metrics | None:
        built: Services | None = getattr(app.state, "services", None)
        return built.metrics if built is not None else None

    app.add_middleware(CountResponses, metrics=current_metrics)
    return app
