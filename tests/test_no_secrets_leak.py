"""No secret leaves where it may not (issue 4: "no token, key or secret ever appears").

A full pull-request review with the LLM reviewer, against the fake GitHub and the fake OpenAI
server, while every log record (all loggers, DEBUG), every request to GitHub and every request to
the LLM (headers and body) is kept. The webhook secret, the app's private key, the app JWTs and
installation tokens the fake issued, and the OpenAI API key may appear in none of them — except
that GitHub's Authorization header carries GitHub credentials, and the LLM's carries the API key.
A submission that commits a GitHub token and a private key reaches the LLM masked.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import openai
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.ledger import metadata
from app.review.assignment import CONFIG_PATH
from tests.conftest import Harness, harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.fakes.llm import FakeLLM, good
from tests.support import SECRET, pull_request_payload

REPO = "acme/backend-task-bob"
OPENAI_KEY = "sk-relo-test-" + secrets.token_hex(20)
CONFIG = """\
assignments:
  - id: backend-take-home
    repos: ["backend-task-*"]
    title: Backend take-home
    brief: |
      Build a URL shortener with an HTTP API.
    baseline: first-commit
    rubric:
      - {id: correctness, description: "The API does what the brief asks", points: 60}
      - {id: code-quality, description: "Readable, idiomatic code", points: 40}
    feedback: {pr_comment: true, inline_comments: true, show_score_to_candidate: true}
"""


@dataclass
class Seen:
    """One outgoing request, as the server received it."""

    where: str
    method: str
    target: str  # path and query
    headers: list[tuple[str, str]]
    body: bytes = b""

    def text(self, *, without: str | None = None) -> str:
        """Everything in the request but the header named `without`, for substring checks."""
        kept = "\n".join(f"{k}: {v}" for k, v in self.headers if k != without)
        return f"{self.method} {self.target}\n{kept}\n{self.body.decode('utf-8', 'replace')}"

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


@dataclass
class Recorder:
    """ASGI middleware keeping every request (headers and body) an app receives."""

    app: ASGIApp
    where: str
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        entry = Seen(
            self.where,
            scope["method"],
            scope["path"] + (f"?{query}" if query else ""),
            [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
        )
        self.seen.append(entry)

        async def recording() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                entry.body += message.get("body", b"")
            return message

        await self.app(scope, recording, send)


def fresh_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def pem_lines(pem: str) -> list[str]:
    """The base64 body lines of a PEM key: any one of them found means the key leaked."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@dataclass
class Wired:
    harness: Harness
    github: Recorder
    llm: Recorder
    fake_llm: FakeLLM


@pytest.fixture
async def wired(
    make_settings: Callable[..., Settings], fake_github: FakeGitHub
) -> AsyncIterator[Wired]:
    github = Recorder(fake_github.app, "github")
    fake_llm = FakeLLM(api_key=OPENAI_KEY)
    llm = Recorder(fake_llm.app, "llm")
    settings = make_settings(
        openai_api_key=OPENAI_KEY,
        openai_base_url="http://fake-llm.test/v1",
        openai_model="gpt-4o-mini",
    )
    async with (
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=github), base_url=fake_github.base_url
        ) as github_http,
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=llm)) as llm_http,
    ):
        client = openai.AsyncOpenAI(
            base_url="http://fake-llm.test/v1",
            api_key=OPENAI_KEY,
            max_retries=1,
            http_client=llm_http,
        )
        async with harness_for(settings, github_http, llm=client) as h:
            yield Wired(h, github, llm, fake_llm)


def setup_repos(tmp_path: Path, fake: FakeGitHub, files: dict[str, str]) -> GitRepo:
    org = GitRepo.init(tmp_path / "org-dot-github")
    org.commit({CONFIG_PATH: CONFIG}, "org config")
    fake.add_repo("acme/.github", org, installation_id=1, private=True)
    git = GitRepo.init(tmp_path / "task")
    git.commit({"README.md": "# URL shortener\n", "app/starter.py": "X = 1\n"}, "starter")
    fake.add_repo(REPO, git, installation_id=1)
    git.commit(files, "candidate work", branch="feature")
    git.checkout("main")
    return git


async def review(
    w: Wired, fake: FakeGitHub, git: GitRepo, *, title: str = "Submission", body: str = ""
) -> None:
    fake.add_pull(REPO, 1, head_ref="feature", title=title, body=body)
    w.fake_llm.script(good(fraction=0.5))
    payload = pull_request_payload(
        REPO, 1, head_sha=git.rev("feature"), base_sha=git.rev("main"), title=title, body=body
    )
    response = await w.harness.deliver("pull_request", payload)
    assert response.status_code == 202, response.text
    await w.harness.settle()
    [run] = fake.runs_for(REPO)
    assert run["status"] == "completed", run
    assert len(fake.comments_on(REPO, 1)) == 1


def log_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = []
    for record in caplog.records:
        text = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        lines.append(text)
    return lines


async def ledger_text(h: Harness) -> str:
    parts = []
    async with h.services.ledger.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(sa.select(table))).all():
                parts.append(json.dumps([str(v) for v in row]))
    return "\n".join(parts)


def credentials_seen_by_github(fake: FakeGitHub, w: Wired) -> tuple[set[str], set[str]]:
    """(installation tokens the fake issued, app JWTs the app signed)."""
    tokens = set(fake.tokens)
    jwts = {
        (r.header("authorization") or "").partition(" ")[2]
        for r in w.github.seen
        if r.target.startswith("/app")
    }
    jwts.discard("")
    return tokens, jwts


def find(needles: dict[str, str], haystacks: list[tuple[str, str]]) -> list[str]:
    return [
        f"{name} found in {where}: …{hay[max(0, hay.find(value) - 80) : hay.find(value)]}…"
        for name, value in needles.items()
        for where, hay in haystacks
        if value and value in hay
    ]


async def test_a_review_leaks_no_secret(
    wired: Wired,
    fake_github: FakeGitHub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    private_pem: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records propagate here
    for name in logging.root.manager.loggerDict:
        logger = logging.getLogger(name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    solution = {"app/shortener.py": "import sys\n\n\ndef shorten(u):\n    return u\n"}
    git = setup_repos(tmp_path, fake_github, solution)
    try:
        await review(wired, fake_github, git)
    finally:
        for name in logging.root.manager.loggerDict:
            logging.getLogger(name).removeHandler(caplog.handler)

    tokens, jwts = credentials_seen_by_github(fake_github, wired)
    assert tokens and jwts, "the review should have used an app JWT and an installation token"
    assert wired.llm.seen and wired.fake_llm.requests, "the LLM reviewer should have been asked"
    ours: dict[str, str] = {"webhook secret": SECRET, "OpenAI API key": OPENAI_KEY}
    ours |= {f"private key line {i}": line for i, line in enumerate(pem_lines(private_pem))}
    ours |= {f"installation token {t[:8]}…": t for t in tokens}
    ours |= {f"app JWT {j[:12]}…": j for j in jwts}

    # Logs: nothing at all.
    problems = find(ours, [("a log record", line) for line in log_text(caplog)])
    assert caplog.records, "no log records were captured"
    # The ledger (jobs carry plain values, never tokens).
    problems += find(ours, [("the ledger", await ledger_text(wired.harness))])

    github_credentials = {k: v for k, v in ours.items() if k.startswith(("installation", "app"))}
    for request in wired.github.seen:
        where = f"a request to GitHub ({request.method} {request.target[:60]})"
        problems += find(ours, [(where, request.text(without="authorization"))])
        authorization = request.header("authorization") or ""
        others = {k: v for k, v in ours.items() if k not in github_credentials}
        problems += find(others, [(where + "'s Authorization", authorization)])
        if request.target.startswith("/_codeload/"):
            # The archive link is signed; GitHub's token must not follow the redirect there.
            assert not authorization, f"the token followed the archive redirect: {request.target}"
        elif request.target.startswith("/repos/"):
            assert authorization.partition(" ")[2] in tokens, (request.target, authorization)

    llm_ours = {k: v for k, v in ours.items() if k != "OpenAI API key"}
    for request in wired.llm.seen:
        where = f"a request to the LLM ({request.method} {request.target})"
        problems += find(ours, [(where, request.text(without="authorization"))])
        authorization = request.header("authorization") or ""
        problems += find(llm_ours, [(where + "'s Authorization", authorization)])
        assert request.header("authorization") == f"Bearer {OPENAI_KEY}"

    assert not problems, "\n".join(problems)


async def test_secrets_in_a_submission_reach_the_llm_masked(
    wired: Wired, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    token = "ghp_" + secrets.token_hex(18)  # 36 characters after the prefix, like GitHub's
    pem = fresh_pem()
    files = {
        "app/settings.py": f'GITHUB_TOKEN = "{token}"\nTIMEOUT = 5\n',
        "app/key.pem": pem,
        "app/shortener.py": "def shorten(url):\n    return url[:8]\n",
    }
    git = setup_repos(tmp_path, fake_github, files)
    await review(wired, fake_github, git, title=f"Done, token {token}", body=f"Use {token}")

    assert wired.llm.seen, "the LLM reviewer should have been asked"
    body = "\n".join(r.body.decode("utf-8", "replace") for r in wired.llm.seen)
    prompt = "\n".join(json.dumps(r) for r in wired.fake_llm.requests)
    for text in (body, prompt):
        assert token not in text
        leaked = [line for line in pem_lines(pem) if line in text]
        assert not leaked, f"{len(leaked)} lines of the committed private key reached the LLM"
    assert "[MASKED:github-token]" in prompt
    assert "app/shortener.py" in prompt  # the rest of the submission was still reviewed
    # Reviewers hear about it; the candidate's token is not repeated back into the repository.
    [run] = fake_github.runs_for(REPO)
    assert any(a.get("title") == "Committed secret" for a in run["annotations"]), run
    posted = "\n".join(r.text() for r in wired.github.seen if r.method in {"POST", "PATCH"})
    assert token not in posted
    assert not re.search("|".join(map(re.escape, pem_lines(pem))), posted)
