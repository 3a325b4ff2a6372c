"""The composition root: what each kind of process builds, and nothing more.

- the web process: ledger, intake, queue (and, with the embedded queue, the runner its
  in-process workers use);
- an arq worker: ledger, HTTP client, token cache, LLM, runner — no intake, no web;
- the CLI: an LLM reviewer for a local review, without any of the above.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

import httpx2
import openai

from app.config import Settings
from app.github.auth import TokenCache
from app.jobs.base import Queue
from app.jobs.inprocess import InProcessQueue
from app.jobs.models import ReviewJob
from app.jobs.reviewing import LLMFactory
from app.jobs.runner import Runner, RunnerConfig
from app.jobs.store import JobStore
from app.ledger import Ledger
from app.metrics import Metrics
from app.review.assignment import Assignment
from app.review.llm import LLMReviewer
from app.review.models import Reviewer
from app.review.secrets import mask_secrets
from app.services import Services, WorkerServices

ReviewerFactory = Callable[[ReviewJob], Sequence[Reviewer]]


def llm_factory(settings: Settings, client: openai.AsyncOpenAI) -> LLMFactory:
    """Per-assignment LLM reviewers over one shared client; secrets masked before sending."""

    def mask(text: str) -> str:
        # Secrets never leave. (Text addressed to the grader is withheld too: the review adds
        # that redaction whenever its scan flags anything; see engine.review_submission.)
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


def openai_client(
    settings: Settings, http: httpx2.AsyncClient | None = None, metrics: Metrics | None = None
) -> openai.AsyncOpenAI:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
    if http is None and metrics is not None:  # count answers by status (ReloLLMErrors alert)
        http = openai.DefaultAsyncHttpxClient(event_hooks={"response": [metrics.llm_response]})
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


async def open_store(settings: Settings, stack: AsyncExitStack) -> JobStore:
    """The migrated ledger, closed with the stack, behind the job layer's store."""
    ledger = Ledger.from_url(settings.database_url_async)
    stack.push_async_callback(ledger.close)
    await ledger.migrate()
    return JobStore(
        ledger,
        lease_seconds=settings.review_lease_seconds,
        max_attempts=settings.review_max_attempts,
    )


async def build_worker(
    settings: Settings,
    stack: AsyncExitStack,
    store: JobStore,
    metrics: Metrics,
    *,
    http: httpx2.AsyncClient | None = None,
    reviewers: ReviewerFactory | None = None,
    llm: openai.AsyncOpenAI | None = None,
    github_sleep: Callable[[float], Awaitable[None]] | None = None,
) -> WorkerServices:
    """What runs reviews: the GitHub client and tokens, the LLM, the reviewers, the runner."""
    tokens = None
    if settings.github_app_configured:
        tokens = TokenCache(
            app_id=settings.github_app_id, private_key=settings.private_key_pem or ""
        )
    if http is None:
        http = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, connect=10.0))
        stack.push_async_callback(http.aclose)
    if llm is None and settings.llm_configured:
        llm = openai_client(settings, metrics=metrics)
        stack.push_async_callback(llm.close)
    runner = Runner(
        config=RunnerConfig(
            api_url=settings.github_api_url,
            check_run_name=settings.check_run_name,
            max_file_bytes=settings.max_file_bytes,
            max_archive_bytes=settings.max_archive_bytes,
            review_timeout=settings.review_timeout_seconds,
            app_id=int(settings.github_app_id) if settings.github_app_id.isdigit() else None,
        ),
        http=http,
        tokens=tokens,
        store=store,
        reviewers=reviewers or default_reviewers(settings),
        llm=llm_factory(settings, llm) if llm is not None else None,
        prices=dict(settings.llm_prices),
        metrics=metrics,
        sleep=github_sleep,
    )
    return WorkerServices(settings=settings, store=store, runner=runner, metrics=metrics)


@asynccontextmanager
async def worker_services(settings: Settings, **kwargs: object) -> AsyncIterator[WorkerServices]:
    """An arq worker process: everything that runs reviews, nothing that takes deliveries."""
    async with AsyncExitStack() as stack:
        store = await open_store(settings, stack)
        yield await build_worker(settings, stack, store, Metrics(), **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    http: httpx2.AsyncClient | None = None,
    reviewers: ReviewerFactory | None = None,
    llm: openai.AsyncOpenAI | None = None,
    start_workers: bool = True,
    github_sleep: Callable[[float], Awaitable[None]] | None = None,
    with_runner: bool = False,
) -> AsyncIterator[Services]:
    """The web process. With the embedded queue it also runs reviews; with arq it only
    enqueues (`with_runner` builds a runner anyway, for tests that drive arq workers)."""
    from app.intake import Intake  # the web process's alone: workers never import it

    async with AsyncExitStack() as stack:
        store = await open_store(settings, stack)
        metrics = Metrics()
        worker: WorkerServices | None = None
        if not settings.queue_url or with_runner:
            worker = await build_worker(
                settings, stack, store, metrics,
                http=http, reviewers=reviewers, llm=llm, github_sleep=github_sleep,
            )
        queue: Queue
        if settings.queue_url:
            from app.jobs.arq_queue import ArqQueue  # the `scale` extra's arq

            arq_queue = ArqQueue(
                settings.queue_url,
                store.ledger,
                queue_name=settings.queue_name,
                lease_seconds=settings.review_lease_seconds,
            )
            await arq_queue.start()
            stack.push_async_callback(arq_queue.stop)
            queue = arq_queue
        else:
            assert worker is not None
            local = InProcessQueue(
                store, worker.runner.run,
                concurrency=settings.worker_concurrency, metrics=metrics,
            )
            if start_workers:
                await local.start()
            stack.push_async_callback(local.stop, settings.shutdown_grace_seconds)
            queue = local
        intake = Intake(store.ledger)
        await intake.start()
        stack.push_async_callback(intake.stop)
        yield Services(
            settings=settings,
            ledger=store.ledger,
            store=store,
            intake=intake,
            queue=queue,
            metrics=metrics,
            runner=worker.runner if worker is not None else None,
        )
