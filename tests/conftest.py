"""Fixtures: settings built without the environment, keys, and the service wired to fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.compose import running_services
from app.config import Settings
from app.jobs.arq_queue import WorkerDeps, close_worker, make_worker
from app.jobs.inprocess import InProcessQueue
from app.services import Services
from app.web import create_app
from tests.support import SECRET


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def private_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def public_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    return rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def make_settings(tmp_path: Path, private_pem: str) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "github_app_id": "4242",
            "github_private_key": private_pem,
            "github_webhook_secret": SECRET,
            "github_api_url": "https://api.github.test",
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}",
            "worker_concurrency": 2,
            "shutdown_grace_seconds": 5.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


class Harness:
    """The real app and its services, talking to whatever the test wired in."""

    def __init__(self, services: Services, client: httpx2.AsyncClient) -> None:
        self.services = services
        self.client = client

    async def deliver(
        self, event: str, payload: Any, *, delivery: str | None = None
    ) -> httpx2.Response:
        from tests.support import delivery_headers, encode

        body = encode(payload)
        return await self.client.post(
            "/webhook", content=body, headers=delivery_headers(event, body, delivery=delivery)
        )

    async def settle(self) -> None:
        """Wait until every queued review has finished (no sleeps: the queue says when).

        On Redis, a burst worker runs the queue dry, including work enqueued meanwhile."""
        queue = self.services.queue
        if isinstance(queue, InProcessQueue):
            await queue.join()
            return
        settings = self.services.settings
        assert settings.queue_url
        assert self.services.runner is not None, "harness_for builds a runner for arq tests"
        deps = WorkerDeps(
            store=self.services.store,
            runner=self.services.runner,
            lock_timeout=60,
            queue_name=settings.queue_name,
        )
        worker = make_worker(
            settings.queue_url, deps, concurrency=settings.worker_concurrency,
            job_timeout=60, burst=True, handle_signals=False,
        )
        try:
            await worker.async_run()
        finally:
            await close_worker(worker)


@pytest.fixture
async def idle_harness(settings: Settings) -> AsyncIterator[Harness]:
    """The service with workers stopped: for the webhook's own behaviour."""
    async with harness_for(settings, None, start_workers=False, reviewers=lambda job: ()) as h:
        yield h


@pytest.fixture
def fake_github(public_pem: bytes) -> Any:
    from tests.fakes.github import FakeGitHub

    fake = FakeGitHub(app_id="4242", public_key_pem=public_pem)
    yield fake
    fake.assert_no_violations()


@pytest.fixture
async def github_http(fake_github: Any) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=fake_github.app)
    async with httpx2.AsyncClient(transport=transport, base_url=fake_github.base_url) as client:
        yield client


@asynccontextmanager
async def harness_for(
    settings: Settings,
    http: httpx2.AsyncClient | None,
    **kwargs: Any,
) -> AsyncIterator[Harness]:
    """The real app over its services; `http` reaches GitHub (None: the service's own client)."""
    kwargs.setdefault("with_runner", True)
    async with running_services(settings, http=http, **kwargs) as services:
        app = create_app(settings, services=services)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://relo.test") as client:
            yield Harness(services, client)


@pytest.fixture
def fake_llm() -> Any:
    from tests.fakes.llm import FakeLLM

    return FakeLLM()


@asynccontextmanager
async def llm_harness_for(
    settings: Settings, http: httpx2.AsyncClient, fake_llm: Any
) -> AsyncIterator[Harness]:
    """`harness_for` with the real OpenAI SDK talking to `fake_llm`; the client is closed after."""
    client = fake_llm.client()
    try:
        async with harness_for(settings, http, llm=client) as h:
            yield h
    finally:
        await client.close()


@pytest.fixture(params=["sqlite-inprocess", "postgres-arq"])
async def backend_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    """The embedded default, and the scale-out stack on the real servers of this machine."""
    if request.param == "sqlite-inprocess":
        return make_settings()
    from tests.services import fresh_postgres, fresh_redis

    redis_url, queue_name = await fresh_redis()
    return make_settings(
        database_url=await fresh_postgres(), queue_url=redis_url, queue_name=queue_name
    )


@pytest.fixture
async def harness(
    backend_settings: Settings, github_http: httpx2.AsyncClient
) -> AsyncIterator[Harness]:
    """The service with running workers, wired to the fake GitHub, static reviewer only;
    once on SQLite with in-process workers, once on PostgreSQL with arq on Redis."""
    async with harness_for(backend_settings, github_http) as h:
        yield h
