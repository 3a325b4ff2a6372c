"""The real service wired to the test suite's fakes, as tests/conftest.py wires it, plus helpers
to make assignment repositories and pull requests for the benchmarks."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai

from app.compose import running_services
from app.config import Settings
from app.jobs.models import ReviewJob
from app.review.models import Reviewer
from app.services import Services
from app.web import create_app
from bench.common import SECRET, keypair
from tests.fakes.github import FakeGitHub
from tests.fakes.github_http import RecordedRequest
from tests.fakes.gitrepo import GitRepo
from tests.support import delivery_headers, pull_request_payload

STARTER = {"README.md": "# Task\n", "solution/__init__.py": ""}
CODELOAD = re.compile(r"^/_codeload/")


def fake_github() -> FakeGitHub:
    return FakeGitHub(app_id="4242", public_key_pem=keypair()[1])


def make_repo(
    root: Path,
    fake: FakeGitHub,
    name: str,
    *,
    installation_id: int = 1,
    starter: Mapping[str, str] | None = None,
) -> GitRepo:
    git = GitRepo.init(root / name.replace("/", "_"))
    git.commit({**STARTER, **(starter or {})}, "starter code")
    fake.add_repo(name, git, installation_id=installation_id)
    return git


def make_repos(
    root: Path,
    fake: FakeGitHub,
    names: Sequence[str],
    *,
    installation_id: int = 1,
    starter: Mapping[str, str] | None = None,
) -> list[GitRepo]:
    """One repository per candidate, as assignments are: copies of one starter repository
    (copying the directory is much faster than building each with git)."""
    if not names:
        return []
    template = make_repo(root, fake, names[0], installation_id=installation_id, starter=starter)
    repos = [template]
    for name in names[1:]:
        path = root / name.replace("/", "_")
        shutil.copytree(template.path, path)
        git = GitRepo(path)
        fake.add_repo(name, git, installation_id=installation_id)
        repos.append(git)
    return repos


def open_pull(
    fake: FakeGitHub,
    git: GitRepo,
    repo: str,
    number: int,
    files: Mapping[str, str | bytes | None],
    *,
    installation_id: int = 1,
) -> dict[str, Any]:
    """Commit `files` on a branch of their own and open PR `number` from it."""
    branch = f"pr-{number}"
    git.commit(files, f"candidate work for #{number}", branch=branch)
    git.checkout("main")
    fake.add_pull(repo, number, head_ref=branch, title=f"Submission {number}")
    return pull_request_payload(
        repo,
        number,
        head_sha=git.rev(branch),
        base_sha=git.rev("main"),
        head_ref=branch,
        installation=installation_id,
        title=f"Submission {number}",
    )


@dataclass
class Service:
    """The running service and an HTTP client to its ASGI app."""

    services: Services
    client: httpx2.AsyncClient

    async def deliver(self, event: str, payload: Any) -> httpx2.Response:
        import json

        body = json.dumps(payload).encode()
        response = await self.client.post(
            "/webhook", content=body, headers=delivery_headers(event, body, secret=SECRET)
        )
        if response.status_code != 202:
            raise RuntimeError(f"delivery refused: {response.status_code} {response.text}")
        return response


@asynccontextmanager
async def github_client(fake: FakeGitHub) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=fake.app)
    async with httpx2.AsyncClient(transport=transport, base_url=fake.base_url) as client:
        yield client


@asynccontextmanager
async def service(
    settings: Settings,
    http: httpx2.AsyncClient,
    *,
    reviewers: Callable[[ReviewJob], Sequence[Reviewer]] | None = None,
    llm: openai.AsyncOpenAI | None = None,
    start_workers: bool = True,
) -> AsyncIterator[Service]:
    async with running_services(
        settings, http=http, reviewers=reviewers, llm=llm, start_workers=start_workers
    ) as services:
        app = create_app(settings, services=services)
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://relo.test") as client:
            yield Service(services, client)


def is_codeload(request: RecordedRequest) -> bool:
    return bool(CODELOAD.match(request.path))


def is_token(request: RecordedRequest) -> bool:
    return request.path.startswith("/app/installations/") and request.path.endswith(
        "/access_tokens"
    )


_SHA = re.compile(r"[0-9a-f]{40}")
_NUMBER = re.compile(r"/(\d+)(?=/|$)")


def shape(request: RecordedRequest) -> str:
    """`METHOD /path` with SHAs and ids folded, to group requests by kind."""
    path = _NUMBER.sub("/{n}", _SHA.sub("{sha}", request.path))
    return f"{request.method} {path}"


def tally(requests: Sequence[RecordedRequest]) -> Counter[str]:
    return Counter(shape(r) for r in requests)
