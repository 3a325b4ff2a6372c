"""A stateful, in-memory GitHub REST API (an ASGI app) for the whole test suite.

It serves repository content from real git repositories (``GitRepo``), holds check runs,
comments and reviews in memory for assertions, checks app JWTs and installation tokens like
GitHub, and holds every request and response to GitHub's published OpenAPI subset: a wrong
path, method or body is answered with 422 and recorded in ``violations``.

Use it in-process with ``httpx2.AsyncClient(transport=httpx2.ASGITransport(app=fake.app),
base_url=fake.base_url)``, or over TCP with ``with fake.serve() as url: ...``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import github_actions, github_ci, github_routes_read, github_routes_write
from . import github_shapes as shapes
from .github_http import (
    DOCS,
    ApiError,
    Call,
    Handler,
    RecordedRequest,
    Reply,
    check_jwt,
    not_found,
    serve_in_thread,
)
from .gitrepo import GitRepo
from .openapi_contract import DEFAULT_SPEC, Contract, PathTemplate, compile_template, load_contract

_MULTI_SEGMENT = {"path", "ref", "basehead", "tree_sha", "commit_sha", "branch"}
_JWT_ROUTES = {
    ("POST", "/app/installations/{installation_id}/access_tokens"), ("GET", "/app"),
    ("GET", "/app/installations/{installation_id}"), ("GET", "/repos/{owner}/{repo}/installation"),
}
_OPEN_ROUTES = {("POST", "/app-manifests/{code}/conversions")}
_ROUTES: list[tuple[str, PathTemplate, Handler]] = sorted(
    (
        (method, compile_template(template, _MULTI_SEGMENT), handler)
        for method, template, handler in [
            *github_routes_read.ROUTES, *github_routes_write.ROUTES, *github_actions.ROUTES]
    ),
    key=lambda r: r[1].rank,
)
DOCS_RATE = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
_ALNUM = string.ascii_letters + string.digits
_CODELOAD = re.compile(r"/_codeload/([^/]+)/([^/]+)/legacy\.tar\.gz/([0-9a-f]{40})")
_ARTIFACT = re.compile(github_actions.ARTIFACT_PATH.replace(".", r"\.").format(id=r"(\d+)"))


@dataclass
class FakeRepo:
    """A repository added with ``add_repo``; its content is the git repository's."""

    full_name: str
    git: GitRepo
    default_branch: str
    private: bool
    installation_id: int
    id: int
    owner_type: str = "Organization"
    fork: bool = False

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    def json(self, urls: shapes.Urls, *, full: bool = False) -> dict[str, Any]:
        return shapes.repository(
            urls, self.full_name, repo_id=self.id, private=self.private,
            default_branch=self.default_branch, owner_type=self.owner_type, fork=self.fork,
            full=full,
        )


@dataclass
class FakePull:
    """A pull request; its SHAs are read live from git so new commits move its head."""

    repository: str
    number: int
    id: int
    head_ref: str
    base_ref: str
    head_repository: str
    draft: bool
    title: str
    body: str | None
    user: str
    state: str
    created_at: str
    updated_at: str
    head_sha_seen: str = ""


@dataclass
class _Token:
    installation_id: int
    expires_at: datetime


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    applied: bool = False


@dataclass
class Hold:
    """Requests that wait inside the fake, before they are recorded or answered, until the test
    calls ``release()`` (or ``timeout`` seconds pass): a review stays in flight meanwhile."""

    method: str
    pattern: re.Pattern[str]
    timeout: float
    released: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0  # requests held right now
    held: int = 0  # requests held so far

    def release(self) -> None:
        self.released.set()


@dataclass
class _Installation:
    account: str
    account_type: str = "Organization"
    permissions: dict[str, str] = field(default_factory=lambda: dict(shapes.APP_PERMISSIONS))


class FakeGitHub:
    """GitHub's REST API for one GitHub App, backed by local git repositories."""

    def __init__(
        self,
        *,
        app_id: str = "4242",
        public_key_pem: bytes | None = None,
        spec_path: Path | None = None,
    ) -> None:
        self.app_id = app_id
        self.client_id = "Iv23.fakeclientid"
        self.app_slug = "relo-review"
        self.app_owner = "relo-org"
        self.public_key_pem = public_key_pem
        self.base_url = "https://api.github.test"
        self.html_url = "https://github.test"
        self.contract: Contract | None = load_contract(spec_path or DEFAULT_SPEC)
        self.validating = self.contract is not None
        #: Clock for tokens and timestamps; move it forward to expire installation tokens.
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        #: Clock for JWT ``iat``/``exp``: the app signs with its wall clock, so by default this
        #: one does not follow ``now`` (moving ``now`` must not invalidate fresh JWTs).
        self.jwt_now: Callable[[], float] = time.time
        self.violations: list[str] = []
        self.auth_failures: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.token_requests: collections.Counter[int] = collections.Counter()
        self.tokens: dict[str, _Token] = {}
        self.rate_limit = 5000
        #: Remaining primary rate limit per installation id (0 = app JWT / anonymous).
        self.rate_remaining: dict[int, int] = {}
        self.rate_reset: dict[int, int] = {}
        self.installations: dict[int, _Installation] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.pulls: dict[tuple[str, int], FakePull] = {}
        self.check_runs: list[dict[str, Any]] = []
        self.check_suites: dict[tuple[str, str], int] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.issues: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.review_comments: dict[int, dict[str, Any]] = {}
        self.permissions: dict[tuple[str, str], str] = {}
        self.manifest_codes: dict[str, dict[str, Any]] = {}
        #: Workflows, runs and artifacts (``add_workflow``, ``complete_run``...).
        self.actions = github_actions.Actions(self)
        #: Organisation and team memberships (``set_member``, ``set_team_member``).
        self.orgs = github_actions.Orgs()
        #: Check runs of other apps (the candidate's own CI): ``other_checks.add(...)``.
        self.other_checks = github_ci.OtherChecks(self)
        self._faults: list[_Fault] = []
        self._holds: list[Hold] = []
        self._activity = threading.Condition()
        self._ids = itertools.count(1001)
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=methods)])

    # -- seeding ------------------------------------------------------------------------------

    def add_installation(
        self, installation_id: int, account: str, *, account_type: str = "Organization"
    ) -> None:
        """Register an installation (``add_repo`` does this for its owner automatically)."""
        self.installations[installation_id] = _Installation(account, account_type)

    def add_repo(
        self,
        full_name: str,
        repo: GitRepo,
        *,
        default_branch: str = "main",
        private: bool = False,
        installation_id: int = 1,
        owner_type: str = "Organization",
        fork: bool = False,
    ) -> FakeRepo:
        """Serve ``repo`` as ``full_name`` to tokens of ``installation_id``."""
        added = FakeRepo(
            full_name, repo, default_branch, private, installation_id,
            shapes.stable_id(full_name), owner_type, fork,
        )
        self.repos[full_name.lower()] = added
        if installation_id not in self.installations:
            self.add_installation(installation_id, added.owner, account_type=owner_type)
        return added

    def add_pull(
        self,
        full_name: str,
        number: int,
        *,
        head_ref: str,
        base_ref: str = "main",
        draft: bool = False,
        title: str = "",
        body: str = "",
        user: str = "octocat",
        head_full_name: str | None = None,
        state: str = "open",
    ) -> dict[str, Any]:
        """Open PR ``number`` from ``head_ref`` (of fork ``head_full_name``) into ``base_ref``."""
        repo = self.repos[full_name.lower()]
        head = self.repos[(head_full_name or full_name).lower()]
        stamp = self.stamp()
        pr = FakePull(
            repo.full_name, number, next(self._ids), head_ref, base_ref, head.full_name, draft,
            title or f"PR {number}", body, user, state, stamp, stamp,
        )
        self.pulls[(repo.full_name, number)] = pr
        return self.pull_json(shapes.Urls(self.base_url, self.html_url), pr, full=True)

    def add_comment(
        self, full_name: str, number: int, body: str, user: str = "someone",
        user_type: str = "User",
    ) -> dict[str, Any]:
        """Seed an issue/PR comment (as if ``user`` wrote it); returns the stored record."""
        repo = self.repos[full_name.lower()]
        return self.store_comment(repo.full_name, number, body, user, user_type)

    def set_permission(self, full_name: str, user: str, permission: str) -> None:
        """``user``'s permission on the repo: admin, write, read (default) or none."""
        self.permissions[(self.repos[full_name.lower()].full_name, user.lower())] = permission

    def issue_token(self, installation_id: int = 1, *, ttl: float = 3600) -> str:
        """Mint an installation token directly (for tests that skip the JWT exchange)."""
        token = "ghs_" + "".join(secrets.choice(_ALNUM) for _ in range(36))
        self.tokens[token] = _Token(installation_id, self.now() + timedelta(seconds=ttl))
        return token

    def expire_tokens(self) -> None:
        """Make every issued installation token expired (the next use answers 401)."""
        for token in self.tokens.values():
            token.expires_at = self.now() - timedelta(seconds=1)

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        applied: bool = False,
    ) -> None:
        """Fail the next ``times`` matching requests with ``status`` (0: connection error).

        ``method`` may be ``*``; ``path_regex`` is searched in the decoded path. ``body`` is
        sent as JSON (dict/list) or verbatim (str/bytes). Faults hit only requests that pass
        the contract check, before auth. Status 0 raises ``httpx2.ConnectError`` inside the
        app, which ``ASGITransport`` hands to the client (under ``serve()`` it becomes a 500).

        With ``applied`` GitHub does the work and then the answer is lost: the request takes
        effect (a POST creates its record), then the client gets ``status``, or for 0 an
        ``httpx2.ReadTimeout`` (the answer never came).
        """
        self._faults.append(
            _Fault(method.upper(), re.compile(path_regex), status, headers or {}, body, times,
                   applied)
        )

    def hold(self, method: str, path_regex: str, *, timeout: float = 60.0) -> Hold:
        """Hold every matching request (``method`` may be ``*``) until ``release()``.

        Hold a read (say the compare) rather than a write: a held request whose client is gone
        still goes through when released. ``wait_until`` sees a request arrive at the hold.
        """
        hold = Hold(method.upper(), re.compile(path_regex), timeout)
        self._holds.append(hold)
        return hold

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` is true, re-checked whenever a request arrives or is
        answered (use it with ``serve()``); False if ``timeout`` seconds pass first."""
        with self._activity:
            return self._activity.wait_for(predicate, timeout)

    # -- assertions ---------------------------------------------------------------------------

    def count(self, method: str, path_regex: str) -> int:
        """How many recorded requests match ``method`` (or ``*``) and ``path_regex``."""
        pattern = re.compile(path_regex)
        return sum(
            1 for r in self.requests
            if method in ("*", r.method) and pattern.search(r.path)
        )

    def runs_for(self, full_name: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        """Check runs created on ``full_name`` (optionally for one head SHA), oldest first."""
        name = full_name.lower()
        return [
            r for r in self.check_runs
            if r["repository"].lower() == name and head_sha in (None, r["head_sha"])
        ]

    def comments_on(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """Issue comments on issue/PR ``number``, oldest first."""
        name = full_name.lower()
        return [
            c for c in self.comments.values()
            if c["repository"].lower() == name and c["issue_number"] == number
        ]

    def assert_no_violations(self) -> None:
        """Fail with every contract violation seen so far (call it in fixture teardown)."""
        assert not self.violations, "GitHub contract violations:\n" + "\n".join(self.violations)

    # -- helpers for handlers -----------------------------------------------------------------

    def stamp(self) -> str:
        return shapes.iso(self.now())

    def violation(self, call: Call, problem: str) -> ApiError:
        """Record a broken GitHub rule the schema cannot express; the 422 to raise."""
        message = f"fake github: {call.method} {call.path}: {problem}"
        self.violations.append(message)
        return ApiError(422, {"message": message})

    def next_id(self) -> int:
        return next(self._ids)

    def repo(self, call: Call) -> FakeRepo:
        """The repo in the path, as the caller's token may see it (else 404, like GitHub)."""
        repo = self.repos.get(f"{call.params['owner']}/{call.params['repo']}".lower())
        if repo is None or call.installation_id not in (None, repo.installation_id):
            raise not_found()
        return repo

    def pull(self, call: Call, number: int | None = None) -> FakePull:
        repo = self.repo(call)
        pr = self.pulls.get((repo.full_name, number or int(call.params["pull_number"])))
        if pr is None:
            raise not_found()
        return pr

    def store_comment(
        self, full_name: str, number: int, body: str, login: str, kind: str
    ) -> dict[str, Any]:
        stamp = self.stamp()
        permission = self.permissions.get((full_name, login.lower()), "read")
        comment: dict[str, Any] = {
            "id": self.next_id(), "body": body, "user": {"login": login, "type": kind},
            "repository": full_name, "issue_number": number, "created_at": stamp,
            "updated_at": stamp, "author_association": shapes.author_association(permission),
        }
        self.comments[comment["id"]] = comment
        return comment

    def pull_shas(self, pr: FakePull) -> tuple[str, str]:
        """(base SHA, head SHA), both present in the base repo (fork heads are fetched)."""
        repo = self.repos[pr.repository.lower()]
        head_repo = self.repos[pr.head_repository.lower()]
        head = head_repo.git.resolve(pr.head_ref) or pr.head_sha_seen
        missing = repo.git.run("cat-file", "-e", f"{head}^{{commit}}").returncode != 0
        if head_repo is not repo and missing:
            refspec = f"+refs/heads/{pr.head_ref}:refs/pull/{pr.number}/head"
            repo.git.git("fetch", "--quiet", "--no-tags", str(head_repo.git.path), refspec)
        pr.head_sha_seen = head
        return repo.git.rev(pr.base_ref), head

    def pull_json(self, urls: shapes.Urls, pr: FakePull, *, full: bool) -> dict[str, Any]:
        """``pull-request`` (full) or ``pull-request-simple`` JSON, from live git state."""
        return github_routes_read.pull_json(self, urls, pr, full=full)

    # -- serving ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Run the fake with uvicorn on 127.0.0.1 (free port) in a thread; yield its URL."""
        with serve_in_thread(self.app) as url:
            yield url

    async def _endpoint(self, request: Request) -> Response:
        await self._wait_if_held(request.method, request.url.path)
        reply = self._dispatch(request, await request.body())
        self._notify()
        return Response(reply.content, reply.status, reply.headers, reply.media_type)

    def _notify(self) -> None:
        with self._activity:
            self._activity.notify_all()

    async def _wait_if_held(self, method: str, path: str) -> None:
        hold = next(
            (
                h for h in self._holds
                if h.method in ("*", method) and h.pattern.search(path) and not h.released.is_set()
            ),
            None,
        )
        if hold is None:
            return
        hold.waiting += 1
        hold.held += 1
        self._notify()
        try:
            await asyncio.to_thread(hold.released.wait, hold.timeout)
        finally:
            hold.waiting -= 1

    def _dispatch(self, request: Request, body: bytes) -> Reply:
        method, path = request.method, request.url.path
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or path
        query = dict(request.query_params)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            parsed = None
        self.requests.append(RecordedRequest(method, path, query, headers, body, parsed))
        urls = shapes.Urls(str(request.base_url).rstrip("/"), self.html_url)
        call = Call(method, path, raw_path, query, headers, parsed, urls)
        codeload = _CODELOAD.fullmatch(path)
        if codeload and method == "GET":
            return github_routes_read.codeload(self, *codeload.groups())
        artifact = _ARTIFACT.fullmatch(path)
        if artifact and method == "GET":
            return github_actions.serve_artifact(self, int(artifact.group(1)), query)
        bucket = self._bucket(headers)
        op = None
        if self.contract is not None:
            matched = self.contract.match(method, path)
            if isinstance(matched, str):
                problems = [matched]
            else:
                op = matched[0]
                problems = self.contract.check_request(op, matched[1], query, body)
            if problems:
                self.violations.extend(f"fake github: {p}" for p in problems)
                reply = Reply(422, {"message": "fake github: " + "; ".join(problems)})
                return self._finish(reply, None, bucket)
        route = next(
            ((t, h) for m, t, h in _ROUTES if m == method and t.match(path) is not None), None
        )
        if route is None:
            return self._finish(Reply(404, {"message": "Not Found"}), None, bucket)
        template, handler = route
        call.params = template.match(path) or {}
        fault = self._take_fault(method, path)
        if fault is not None and not fault.applied:
            if fault.status == 0:
                raise httpx2.ConnectError(f"fake github: injected connection failure {path}")
            return self._finish(self._fault_reply(fault), None, bucket)
        try:
            self._authenticate(call, template.template)
            bucket = self._spend(call)
            reply = handler(self, call)
        except ApiError as error:
            reply = error.reply
        if fault is not None:  # applied: the work is done, the answer is lost
            if fault.status == 0:
                raise httpx2.ReadTimeout(f"fake github: injected lost answer to {path}")
            return self._finish(self._fault_reply(fault), None, bucket)
        return self._finish(reply, op, bucket)

    def _finish(self, reply: Reply, op: Any, bucket: int) -> Reply:
        if reply.json is not None:
            if op is not None and self.contract is not None:
                problems = self.contract.check_response(op, reply.status, "application/json",
                                                        reply.json)
                self.violations.extend(f"fake github: {p}" for p in problems)
            reply.content = json.dumps(reply.json).encode()
            reply.media_type = "application/json; charset=utf-8"
            reply.headers.setdefault("x-github-media-type", "github.v3; format=json")
        remaining = self.rate_remaining.setdefault(bucket, self.rate_limit)
        reset = self.rate_reset.setdefault(bucket, int(self.now().timestamp()) + 3600)
        rate = {
            "x-ratelimit-limit": str(self.rate_limit), "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-used": str(self.rate_limit - remaining),
            "x-ratelimit-reset": str(reset), "x-ratelimit-resource": "core",
            "x-github-request-id": secrets.token_hex(8).upper(),
        }
        reply.headers = {**rate, **reply.headers}
        return reply

    @staticmethod
    def _fault_reply(fault: _Fault) -> Reply:
        """JSON for dict/list bodies; str/bytes bodies verbatim (say, a proxy's HTML page)."""
        headers = dict(fault.headers)
        if isinstance(fault.body, str | bytes):
            raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
            return Reply(fault.status, content=raw, media_type="text/html", headers=headers)
        body = fault.body if fault.body is not None else {
            "message": f"fake github: injected {fault.status}"}
        return Reply(fault.status, body, headers=headers)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.search(path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- auth & rate limits -------------------------------------------------------------------

    def _bucket(self, headers: dict[str, str]) -> int:
        credential = headers.get("authorization", "").partition(" ")[2].strip()
        token = self.tokens.get(credential)
        return token.installation_id if token else 0

    def _authenticate(self, call: Call, template: str) -> None:
        route = (call.method, template)
        if route in _OPEN_ROUTES:
            return
        scheme, _, credential = call.headers.get("authorization", "").partition(" ")
        scheme, credential = scheme.lower(), credential.strip()
        if route in _JWT_ROUTES:
            problem = "a JWT is required" if scheme != "bearer" else check_jwt(
                credential, self.public_key_pem, (self.app_id, self.client_id), self.jwt_now())
            if problem:
                self.auth_failures.append(f"{call.method} {call.path}: {problem}")
                raise ApiError(401, {"message": problem, "documentation_url": DOCS})
            return
        token = self.tokens.get(credential) if scheme in ("token", "bearer") else None
        if token is None or token.expires_at <= self.now():
            why = "expired token" if token else "missing or unknown token"
            self.auth_failures.append(f"{call.method} {call.path}: {why}")
            raise ApiError(401, {"message": "Bad credentials", "documentation_url": DOCS})
        call.installation_id = token.installation_id

    def _spend(self, call: Call) -> int:
        bucket = call.installation_id or 0
        if call.path == "/rate_limit":
            return bucket
        remaining = self.rate_remaining.setdefault(bucket, self.rate_limit)
        if remaining <= 0:
            message = f"API rate limit exceeded for installation ID {bucket}."
            raise ApiError(403, {"message": message, "documentation_url": DOCS_RATE})
        self.rate_remaining[bucket] = remaining - 1
        return bucket

