"""The Starlette application: routes, and a lifespan that builds (or is given) the services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import httpx2
import openai
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.github.auth import TokenCache
from app.intake import Intake
from app.jobs.arq_queue import ArqQueue
from app.jobs.base import Queue
from app.jobs.inprocess import InProcessQueue
from app.jobs.models import ReviewJob
from app.jobs.runner import LLMFactory, Runner, RunnerConfig
from app.ledger import Ledger
from app.metrics import Metrics
from app.review.assignment import Assignment
from app.review.llm import LLMReviewer
from app.review.models import Reviewer
from app.review.secrets import mask_secrets
from app.services import Services
from app.setup import setup_routes
from app.webhook import webhook

log = logging.getLogger(__name__)

ReviewerFactory = Callable[[ReviewJob], Sequence[Reviewer]]


def llm_factory(settings: Settings, client: openai.AsyncOpenAI) -> LLMFactory:
    """Per-assignment LLM reviewers over one shared client; secrets masked before sending."""

    def mask(text: str) -> str:
        return mask_secrets(text)[0]

    def build(assignment: Assignment) -> tuple[LLMReviewer | None, str]:
        model = assignment.model or settings.openai_model
        brief = assignment.brief or ""
        if assignment.instructions:
            brief += f"\n\nInstructions for the reviewer:\n{assignment.instructions}"
        reviewer = LLMReviewer(
            client,
            model,
            assignment.rubric,
            brief,
            budget_tokens=settings.llm_budget_tokens,
            max_total_tokens=settings.llm_max_review_tokens,
            mask=mask,
            max_answer_tokens=settings.llm_max_answer_tokens,
        )
        return reviewer, model

    return build


def openai_client(settings: Settings, http: httpx2.AsyncClient | None = None) -> openai.AsyncOpenAI:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    return openai.AsyncOpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        http_client=http,
    )


def default_reviewers(settings: Settings) -> ReviewerFactory:
    from app.review.static import StaticReviewer

    static = StaticReviewer(ruff_path=settings.ruff_path)

    def factory(job: ReviewJob) -> Sequence[Reviewer]:
        return (static,)

    return factory


@asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    http: httpx2.AsyncClient | None = None,
    reviewers: ReviewerFactory | None = None,
    llm: openai.AsyncOpenAI | None = None,
    start_workers: bool = True,
    github_sleep: Callable[[float], Awaitable[None]] | None = None,
) -> AsyncIterator[Services]:
    """Build the ledger, HTTP client, token cache, runner and queue; tear them down after."""
    factory = reviewers or default_reviewers(settings)
    tokens = None
    if settings.github_app_configured:
        tokens = TokenCache(
            app_id=settings.github_app_id, private_key=settings.private_key_pem or ""
        )
    async with AsyncExitStack() as stack:
        ledger = Ledger.from_url(settings.database_url_async)
        stack.push_async_callback(ledger.close)
        await ledger.migrate()
        if http is None:
            http = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, connect=10.0))
            stack.push_async_callback(http.aclose)
        if llm is None and settings.llm_configured:
            llm = openai_client(settings)
            stack.push_async_callback(llm.close)
        metrics = Metrics()
        runner = Runner(
            config=RunnerConfig(
                api_url=settings.github_api_url,
                check_run_name=settings.check_run_name,
                max_file_bytes=settings.max_file_bytes,
                max_archive_bytes=settings.max_archive_bytes,
                review_timeout=settings.review_timeout_seconds,
            ),
            http=http,
            tokens=tokens,
            ledger=ledger,
            reviewers=factory,
            llm=llm_factory(settings, llm) if llm is not None else None,
            prices=dict(settings.llm_prices),
            metrics=metrics,
            sleep=github_sleep,
        )
        queue: Queue
        if settings.queue_url:
            arq_queue = ArqQueue(
                settings.queue_url,
                ledger,
                queue_name=settings.queue_name,
                lease_seconds=settings.review_lease_seconds,
            )
            await arq_queue.start()
            stack.push_async_callback(arq_queue.stop)
            queue = arq_queue
        else:
            local = InProcessQueue(
                ledger,
                runner.run,
                concurrency=settings.worker_concurrency,
                lease_seconds=settings.review_lease_seconds,
            )
            if start_workers:
                await local.start()
            stack.push_async_callback(local.stop, settings.shutdown_grace_seconds)
            queue = local
        intake = Intake(ledger)
        await intake.start()
        stack.push_async_callback(intake.stop)
        yield Services(
            settings=settings,
            ledger=ledger,
            intake=intake,
            queue=queue,
            http=http,
            runner=runner,
            metrics=metrics,
        )


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
    except (OSError, RedisError) as exc:
        return JSONResponse(
            {"status": "unavailable", "queue": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ready", "queue_depth": depth})


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    with contextlib.suppress(OSError, RedisError):
        services.metrics.queue_depth.set(await services.queue.size())
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
            Route("/webhook", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *setup_routes(settings, http=http),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error},
    )
    if services is not None:
        app.state.services = services
    return app
