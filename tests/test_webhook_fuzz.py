"""Hostile input to POST /webhook, through the real app (issue 4, "Hostile input").

Property-based (hypothesis): bad and missing headers, signed nonsense (random bytes, truncated,
deeply nested and invalid-UTF-8 JSON, huge strings, odd numbers), and GitHub-shaped payloads with
a wrong type in a field the handlers read. About 10,000 requests in all (see `EXAMPLES`). Every
answer must be JSON: a 4xx with an "error" string, or a 2xx; a hostile delivery must do no work
(no review stored); nothing may raise out of the app. Afterwards the same service still accepts a
good delivery, and (last test) a service with running workers still reviews one end to end.

The hypothesis tests are plain functions that run the service on their own event loop
(`SyncService`), so each test owns one service for all its examples without function-scoped
fixtures inside `@given`. The ledger is SQLite in memory: the fuzz measures the webhook, not fsync.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from app.compose import running_services
from app.config import Settings
from app.render import COMMENT_MARKER
from app.services import Services
from app.web import create_app
from tests.conftest import Harness, harness_for
from tests.fakes.github import FakeGitHub
from tests.fakes.gitrepo import GitRepo
from tests.support import delivery_headers, pull_request_payload, push_payload, sign

SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
REPO = "acme/task-fuzz"
SMALL_LIMIT = 256 * 1024  # max_webhook_bytes for the fuzzed services

# Requests per property test; each example sends exactly one request.
EXAMPLES = {"headers": 2500, "signed_bodies": 3000, "wrong_types": 3500, "optional_fields": 1000}
assert sum(EXAMPLES.values()) >= 10_000

FUZZ = {
    "deadline": None,
    "database": None,  # nothing written into the work tree; failures print their example
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow],
}


# --- the service, run synchronously for hypothesis ----------------------------------------------


class SyncService:
    """The real app and services (workers stopped) on a private event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sent = 0
        self.outcomes: Counter[int] = Counter()  # status codes of the fuzzed requests
        self._runner = asyncio.Runner()
        self._stack = AsyncExitStack()
        self.services: Services = self._run(
            self._stack.enter_async_context(
                running_services(settings, start_workers=False, reviewers=lambda job: ())
            )
        )
        app = create_app(settings, services=self.services)
        # raise_app_exceptions stays True: an exception escaping the app fails the example.
        transport = httpx2.ASGITransport(app=app)
        self.client: httpx2.AsyncClient = self._run(
            self._stack.enter_async_context(
                httpx2.AsyncClient(transport=transport, base_url="http://relo.test")
            )
        )

    def _run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    def close(self) -> None:
        try:
            self._run(self._stack.aclose())
        finally:
            self._runner.close()

    def post(
        self,
        body: bytes,
        headers: Sequence[tuple[bytes, bytes]] | dict[str, str],
        *,
        example: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        self.sent += 1
        response = self._run(self.client.post("/webhook", content=body, headers=headers))
        status, data = answer_of(response)
        if example:
            self.outcomes[status] += 1
        return status, data

    def review_count(self) -> int:
        return sum(self._run(self.services.ledger.review_states()).values())

    def stored_job(self, review_id: int) -> Any:
        stored = self._run(self.services.ledger.get(review_id))
        assert stored is not None, review_id
        return stored.job

    def assert_accepts_a_good_delivery(self) -> None:
        before = self.review_count()
        payload = pull_request_payload(REPO, 7, head_sha=SHA_A, base_sha=SHA_B)
        body = json.dumps(payload).encode()
        status, data = self.post(body, delivery_headers("pull_request", body), example=False)
        assert status == 202 and data["status"] == "queued", data
        [review_id] = data["reviews"]
        assert isinstance(review_id, int)
        assert self.stored_job(review_id).head_sha == SHA_A
        assert self.review_count() == before + 1


@contextmanager
def fuzz_service(make_settings: Callable[..., Settings], **overrides: Any) -> Iterator[SyncService]:
    values: dict[str, Any] = {
        "database_url": "sqlite+aiosqlite:///:memory:",
        "max_webhook_bytes": SMALL_LIMIT,
    }
    values.update(overrides)
    service = SyncService(make_settings(**values))
    try:
        yield service
    finally:
        service.close()


def answer_of(response: httpx2.Response) -> tuple[int, dict[str, Any]]:
    """The invariants every answer keeps; returns (status, JSON object)."""
    status = response.status_code
    assert status < 500, (status, response.text[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), response
    data = json.loads(response.content)
    assert isinstance(data, dict), data
    if 400 <= status < 500:
        assert isinstance(data.get("error"), str) and data["error"], data
    else:
        assert 200 <= status < 300, status
        assert isinstance(data.get("status"), str), data
    return status, data


def no_work(status: int, data: dict[str, Any]) -> None:
    if 200 <= status < 300:
        assert data["status"] in {"ignored", "pong", "duplicate"}, data
        assert "reviews" not in data, data


# --- raw JSON building (deep values without Python recursion) -----------------------------------


class Raw:
    """Bytes spliced verbatim into the encoded payload (deep nesting json.dumps cannot write)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Raw({self.data[:40]!r}… {len(self.data)} bytes)"


def deep(depth: int, kind: str = "array", *, closed: bool = True) -> bytes:
    if kind == "array":
        opening, closing = b"[" * depth, b"]" * depth
    elif kind == "object":
        opening, closing = b'{"a":' * depth, b"}" * depth
    else:  # alternating
        pairs = (depth + 1) // 2
        opening = b'[{"a":' * pairs
        closing = b"}]" * pairs
    return opening + (b"1" + closing if closed else b"")


def dump(value: Any) -> bytes:
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, dict):
        items = (json.dumps(str(k)).encode() + b":" + dump(v) for k, v in value.items())
        return b"{" + b",".join(items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dump(v) for v in value) + b"]"
    return json.dumps(value).encode()  # floats may come out as NaN/Infinity: invalid JSON too


# --- strategies ---------------------------------------------------------------------------------

EVENTS = [
    "pull_request", "push", "check_run", "check_suite", "installation",
    "installation_repositories", "ping", "issue_comment", "star", "pull_request_review",
]  # fmt: skip

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_text = st.builds(
    lambda n, c: c * n,
    st.integers(min_value=1_000, max_value=300_000),
    st.sampled_from(["A", "é", "\u2603", "\x00", "\\", '"', "\U0001f600", " "]),
)
deep_value = st.builds(
    lambda depth, kind: Raw(deep(depth, kind)),
    st.one_of(st.integers(1, 1100), st.integers(1100, 100_000)),
    st.sampled_from(["array", "object", "mixed"]),
)
containers = st.lists(json_values, max_size=3) | st.dictionaries(
    st.text(max_size=6), json_values, max_size=3
)
non_str = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | containers
    | deep_value
)
not_a_positive_int64 = (
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers(max_value=0)
    | st.integers(min_value=2**63, max_value=2**70)  # cannot be stored; beyond 2**64 a float
    | st.text(max_size=20)
    | st.just("1")
    | containers
    | deep_value
)
# A deep *object* is still an object (a one-level one is a fine `pull_request` marker), so only
# deep arrays stand in for "not an object".
deep_array = st.builds(
    lambda depth: Raw(deep(depth, "array")),
    st.one_of(st.integers(1, 1100), st.integers(1100, 100_000)),
)
not_an_object = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | huge_text
    | st.lists(json_values, max_size=3)
    | deep_array
)
not_a_sha = (
    non_str
    | st.text(max_size=39)
    | st.just("A" * 40)
    | st.just("g" * 40)
    | st.just("a" * 41)
    | st.just(" " + "a" * 39)
    | huge_text
)
VALID_ENUMS = {
    "opened", "reopened", "synchronize", "ready_for_review", "rerequested", "requested_action",
    "rerun", "created",
}  # fmt: skip
not_a_known_word = non_str | st.text(max_size=30).filter(lambda s: s not in VALID_ENUMS) | huge_text
not_a_nonempty_str = non_str | st.just("")
anything = non_str | st.text(max_size=30) | huge_text

WRONG = {
    "int": not_a_positive_int64,
    "obj": not_an_object,
    "sha": not_a_sha,
    "word": not_a_known_word,
    "str": not_a_nonempty_str,
    "any": anything,
}

Path_ = tuple[str | int, ...]


def _check_run(*, pulls: bool, requested_action: bool = False) -> dict[str, Any]:
    pull = {
        "id": 5, "number": 3, "url": "https://api.github.test/repos/acme/task-fuzz/pulls/3",
        "head": {"ref": "feature", "sha": SHA_A, "repo": {"id": 1, "name": "task-fuzz"}},
        "base": {"ref": "main", "sha": SHA_B, "repo": {"id": 1, "name": "task-fuzz"}},
    }  # fmt: skip
    payload: dict[str, Any] = {
        "action": "requested_action" if requested_action else "rerequested",
        "check_run": {
            "id": 1, "head_sha": SHA_A, "name": "Relo Review", "external_id": "relo:pr:3",
            "check_suite": {"id": 2, "head_branch": "feature", "head_sha": SHA_A},
            "pull_requests": [pull] if pulls else [],
        },
        "repository": {"full_name": REPO, "default_branch": "main"},
        "installation": {"id": 1},
        "sender": {"login": "reviewer", "id": 3},
    }  # fmt: skip
    if requested_action:
        payload["requested_action"] = {"identifier": "rerun"}
    return payload


BASE: dict[Path_, str] = {
    ("installation",): "obj",
    ("installation", "id"): "int",
    ("repository",): "obj",
    ("repository", "full_name"): "str",
}
CHECK_RUN: dict[Path_, str] = {
    **BASE,
    ("action",): "word",
    ("check_run",): "obj",
    ("check_run", "head_sha"): "sha",
}
PR_IN_RUN: dict[Path_, str] = {
    ("check_run", "pull_requests", 0, "number"): "int",
    ("check_run", "pull_requests", 0, "base"): "obj",
    ("check_run", "pull_requests", 0, "base", "sha"): "sha",
}
RUN_OPTIONAL: list[Path_] = [
    ("check_run", "check_suite"), ("check_run", "check_suite", "head_branch"),
    ("check_run", "pull_requests"), ("check_run", "name"), ("check_run", "id"),
    ("sender",), ("sender", "login"),
]  # fmt: skip

# (event, payload, {path: what the handler needs there}, paths whose wrong type may still review)
TEMPLATES: list[tuple[str, dict[str, Any], dict[Path_, str], list[Path_]]] = [
    (
        "pull_request",
        pull_request_payload(REPO, 3, head_sha=SHA_A, base_sha=SHA_B, body="Solution"),
        {
            **BASE,
            ("action",): "word",
            ("pull_request",): "obj",
            ("pull_request", "number"): "int",
            ("pull_request", "head"): "obj",
            ("pull_request", "base"): "obj",
            ("pull_request", "head", "sha"): "sha",
            ("pull_request", "base", "sha"): "sha",
        },
        [
            ("number",),
            ("pull_request", "title"),
            ("pull_request", "body"),
            ("pull_request", "draft"),
            ("pull_request", "state"),
            ("pull_request", "user"),
            ("pull_request", "head", "ref"),
            ("pull_request", "head", "repo"),
            ("pull_request", "head", "repo", "full_name"),
            ("pull_request", "base", "ref"),
            ("pull_request", "base", "repo"),
            ("sender",),
            ("sender", "login"),
        ],
    ),
    (
        "push",
        push_payload(REPO, after=SHA_C, before=SHA_A),
        {
            **BASE,
            ("ref",): "str",
            ("after",): "sha",
            ("repository", "default_branch"): "str",
        },
        [
            ("before",),
            ("deleted",),
            ("created",),
            ("forced",),
            ("commits",),
            ("sender",),
            ("sender", "login"),
        ],
    ),
    (
        "check_run",
        _check_run(pulls=True),
        {**CHECK_RUN, **PR_IN_RUN},
        [*RUN_OPTIONAL, ("check_run", "pull_requests", 0)],
    ),
    ("check_run", _check_run(pulls=False), CHECK_RUN, RUN_OPTIONAL),
    (
        "check_run",
        _check_run(pulls=True, requested_action=True),
        {
            **CHECK_RUN,
            **PR_IN_RUN,
            ("requested_action",): "obj",
            ("requested_action", "identifier"): "word",
        },
        [*RUN_OPTIONAL, ("check_run", "pull_requests", 0)],
    ),
    (
        "check_suite",
        {
            "action": "rerequested",
            "check_suite": {"id": 2, "head_sha": SHA_A, "head_branch": "main", "pull_requests": []},
            "repository": {"full_name": REPO, "default_branch": "main"},
            "installation": {"id": 1},
        },
        {**BASE, ("action",): "word", ("check_suite",): "obj", ("check_suite", "head_sha"): "sha"},
        [("check_suite", "head_branch"), ("check_suite", "pull_requests")],
    ),
]
TEMPLATES.append(
    (
        "issue_comment",
        {
            "action": "created",
            "issue": {"number": 3, "title": "Submission", "pull_request": {"url": "https://x"}},
            "comment": {"id": 77, "body": "/review", "user": {"login": "reviewer", "type": "User"}},
            "repository": {"full_name": REPO, "default_branch": "main"},
            "installation": {"id": 1},
            "sender": {"login": "reviewer"},
        },
        {
            **BASE,
            ("action",): "word",
            ("issue",): "obj",
            ("issue", "pull_request"): "obj",
            ("issue", "number"): "int",
            ("comment",): "obj",
            ("comment", "id"): "int",
            ("comment", "body"): "str",
        },
        [
            ("issue", "title"), ("comment", "user"), ("comment", "user", "login"),
            ("comment", "user", "type"), ("sender",), ("sender", "login"),
        ],
    )
)  # fmt: skip

# Deliveries that never review anything, whatever their fields hold.
NO_WORK_TEMPLATES: list[tuple[str, dict[str, Any], list[Path_]]] = [
    (
        "installation",
        {
            "action": "created",
            "installation": {"id": 1, "account": {"login": "acme"}},
            "repositories": [{"full_name": REPO}],
            "sender": {"login": "admin"},
        },
        [("action",), ("installation",), ("installation", "id"), ("repositories",), ("sender",)],
    ),
    (
        "installation_repositories",
        {"action": "added", "installation": {"id": 1}, "repositories_added": [{"full_name": REPO}]},
        [("action",), ("installation",), ("installation", "id"), ("repositories_added",)],
    ),
    (
        "ping",
        {"zen": "Design for failure.", "hook_id": 1, "hook": {"id": 1}},
        [("zen",), ("hook_id",), ("hook",)],
    ),
    (
        "pull_request",
        pull_request_payload(REPO, 3, head_sha=SHA_A, base_sha=SHA_B, action="closed"),
        [("pull_request",), ("pull_request", "merged"), ("number",), ("installation",)],
    ),
]


def resolve(payload: Any, path: Path_) -> tuple[Any, str | int] | None:
    """(container, key) for `path`, or None when an ancestor is no longer a container."""
    node = payload
    for key in path[:-1]:
        in_dict = isinstance(node, dict) and isinstance(key, str) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if not (in_dict or in_list):
            return None
        node = node[key]
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        return node, last
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        return node, last
    return None


DELETE = object()


@st.composite
def mutated_payload(draw: st.DrawFn, *, optional_only: bool) -> tuple[str, bytes, bool]:
    """(event, body, whether the delivery may still review) — with wrong values in fields."""
    if not optional_only and draw(st.integers(0, 9)) == 0:
        event, template, paths = draw(st.sampled_from(NO_WORK_TEMPLATES))
        payload = deepcopy(template)
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
            if (where := resolve(payload, path)) is not None:
                where[0][where[1]] = draw(anything)  # type: ignore[index]
        return event, dump(payload), False
    event, template, required, optional = draw(st.sampled_from(TEMPLATES))
    payload = deepcopy(template)
    if optional_only:
        chosen = draw(st.lists(st.sampled_from(optional), min_size=1, max_size=3))
    else:
        chosen = draw(st.lists(st.sampled_from(sorted(required, key=repr)), min_size=1, max_size=3))
        # An optional field above a required one would make the required one moot (a check
        # run without pull requests reviews the branch), so only unrelated ones join in.
        unrelated = [p for p in optional if not any(c[: len(p)] == p for c in chosen)]
        if unrelated:
            chosen += draw(st.lists(st.sampled_from(unrelated), max_size=1))
    may_review = True
    for path in chosen:
        where = resolve(payload, path)
        if where is None:
            continue
        container, key = where
        kind = required.get(path, "any")
        value = draw(st.just(DELETE) | WRONG[kind]) if isinstance(key, str) else draw(WRONG[kind])
        if value is DELETE:
            container.pop(key, None)
        else:
            container[key] = value
        if path in required:
            may_review = False
    # Now and then the same payload arrives under another event's name.
    if draw(st.integers(0, 19)) == 0:
        event = draw(st.sampled_from(EVENTS))
        may_review = may_review and event in {
            "pull_request",
            "push",
            "check_run",
            "check_suite",
            "issue_comment",
        }
    return event, dump(payload), may_review


INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80",
                b"\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"]  # fmt: skip
NUMBERS = [b"1e400", b"-1e400", b"NaN", b"Infinity", b"-0", b"0x10", b"01", b"1.", b".5",
           b"9223372036854775808", b"18446744073709551616", b"-9223372036854775809",
           b"1" * 400]  # fmt: skip
GOOD = dump(pull_request_payload(REPO, 3, head_sha=SHA_A, base_sha=SHA_B))


@st.composite
def nonsense_body(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body and the content type it claims: anything but a well-formed delivery."""
    content_type = "application/json"
    kind = draw(
        st.sampled_from(
            [
                "bytes",
                "json",
                "truncated",
                "utf8",
                "deep",
                "huge",
                "number",
                "scalar",
                "encoding",
                "form",
                "duplicate",
            ]
        )
    )
    if kind == "bytes":
        body = draw(st.binary(max_size=2_000))
    elif kind == "json":
        body = dump(draw(json_values))
    elif kind == "truncated":
        body = GOOD[: draw(st.integers(0, len(GOOD) - 1))]
    elif kind == "utf8":
        at = draw(st.integers(0, len(GOOD)))
        body = GOOD[:at] + draw(st.sampled_from(INVALID_UTF8)) + GOOD[at:]
    elif kind == "deep":
        depth = draw(st.integers(1_000, 100_000))
        shape = draw(st.sampled_from(["array", "object", "mixed"]))
        nested = deep(depth, shape, closed=draw(st.booleans()))
        body = draw(
            st.sampled_from(
                [
                    nested,
                    b'{"action":' + nested + b"}",
                    b'{"pull_request":' + nested + b', "action": "opened"}',
                ]
            )
        )
    elif kind == "huge":
        text = draw(huge_text)
        field = draw(st.sampled_from(["action", "ref", "zen", text[:100]]))
        body = dump({field: text, "installation": {"id": 1}})
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]
    elif kind == "number":
        number = draw(st.sampled_from(NUMBERS))
        body = b'{"action": "opened", "number": ' + number + b', "installation": {"id": ' + number
        body += b"}}"
    elif kind == "scalar":
        body = draw(st.sampled_from([b"null", b"[]", b"1", b'"s"', b"true", b"", b" ", b"[{}]"]))
    elif kind == "encoding":
        text = GOOD.decode()
        body = draw(
            st.sampled_from(
                [
                    b"\xef\xbb\xbf" + GOOD,
                    text.encode("utf-16"),
                    text.encode("utf-32"),
                    text.encode("utf-16-le"),
                ]
            )
        )
    elif kind == "form":
        from urllib.parse import quote

        content_type = draw(
            st.sampled_from(
                ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; x=1"]
            )
        )
        inner = draw(st.sampled_from([b"", b"{", b"[1]", b"\xff", deep(5000)]))
        body = draw(
            st.sampled_from(
                [
                    b"payload=" + quote(inner).encode(),
                    b"payload=" + inner,
                    b"other=1",
                    b"payload=%ff%fe",
                    b"&&&=&",
                    b"\xff\xfe=1",
                ]
            )
        )
    else:  # duplicate keys, the last one wrong
        body = GOOD[:-1] + b', "pull_request": ' + dump(draw(non_str)) + b"}"
    return body, content_type


header_text = st.binary(max_size=80).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
)
long_header = st.builds(
    lambda n, c: c * n, st.integers(65, 8_000), st.sampled_from([b"a", b"\xe9"])
)


@st.composite
def hostile_headers(draw: st.DrawFn) -> tuple[bytes, list[tuple[bytes, bytes]], dict[str, Any]]:
    """A plausible body with a mangled set of headers; the facts the oracle needs."""
    event = draw(st.sampled_from(["ping", "push", "pull_request", "star"]))
    payload = {
        "ping": {"zen": "Keep it logically awesome.", "hook_id": 1},
        "push": push_payload(REPO, after=SHA_C, ref="refs/tags/v1"),
        "pull_request": pull_request_payload(
            REPO, 3, head_sha=SHA_A, base_sha=SHA_B, action="closed"
        ),
        "star": {"action": "created", "starred_at": None},
    }[event]
    body = dump(payload)

    def pick(valid: bytes, *others: st.SearchStrategy[bytes]) -> bytes | None:
        choice = draw(st.sampled_from(["valid", "valid", "missing", "empty", "blank", "other"]))
        if choice == "valid":
            return valid
        if choice == "missing":
            return None
        if choice == "empty":
            return b""
        if choice == "blank":
            return draw(st.sampled_from([b" ", b"\t", b"\xa0", b"\x85", b"  \t "]))
        return draw(st.one_of(header_text, long_header, *others))

    good_sig = sign(body).encode()
    signature = pick(
        good_sig,
        st.sampled_from(
            [
                good_sig.upper(),
                b" " + good_sig,
                good_sig + b" ",
                good_sig[:-1],
                b"sha256=" + b"0" * 64,
                b"sha256=",
                b"sha1=" + good_sig[7:47],
                sign(body, "wrong secret").encode(),
                sign(body + b" ").encode(),
                sign(b"").encode(),
                good_sig.replace(b"sha256=", b"SHA256="),
                good_sig + b"\xe9",
            ]
        ),
    )
    event_header = pick(event.encode(), st.sampled_from([b"PING", b"pull_request ", b"\xe9v"]))
    delivery = pick(
        str(uuid.uuid4()).encode(),
        st.sampled_from([b"../../etc/passwd", b"' OR 1=1 --", b"\xff" * 64, b"x" * 64]),
    )
    content_type = pick(
        b"application/json",
        st.sampled_from([b"application/x-www-form-urlencoded", b"text/plain", b"multipart/form"]),
    )
    headers: list[tuple[bytes, bytes]] = []
    for name, value in (
        (b"x-hub-signature-256", signature),
        (b"x-github-event", event_header),
        (b"x-github-delivery", delivery),
        (b"content-type", content_type),
    ):
        if value is not None:
            headers.append((draw(st.sampled_from([name, name.upper(), name.title()])), value))
    if draw(st.booleans()):
        headers.append((b"x-hub-signature", b"sha1=" + bytes(draw(header_text).hex(), "ascii")))
    if draw(st.integers(0, 4)) == 0:
        declared = draw(
            st.sampled_from([b"0", b"1", b"abc", b"-1", b"99999999999999999999", b"", b" 5"])
        )
        headers.append((b"content-length", declared))
    draw(st.randoms()).shuffle(headers)
    facts = {
        "signature": signature,
        "event": event_header,
        "delivery": delivery,
        "content_type": content_type,
        "good_sig": good_sig,
        "declared": next((v for k, v in headers if k.lower() == b"content-length"), None),
    }
    return body, headers, facts


def _usable(value: bytes | None) -> bool:
    if value is None:
        return False
    text = value.decode("latin-1").strip()
    return 0 < len(text) <= 64


# --- the properties -----------------------------------------------------------------------------


def test_hostile_headers(make_settings: Callable[..., Settings]) -> None:
    with fuzz_service(make_settings) as service:

        @hsettings(max_examples=EXAMPLES["headers"], **FUZZ)
        @given(hostile_headers())
        def check(case: tuple[bytes, list[tuple[bytes, bytes]], dict[str, Any]]) -> None:
            body, headers, facts = case
            status, data = service.post(body, headers)
            no_work(status, data)
            signature = facts["signature"]
            signed = signature is not None and signature.decode("latin-1").strip() == sign(body)
            if 200 <= status < 300:
                assert signed, (signature, data)
            if signature is None or facts["good_sig"][7:] not in signature:
                assert status in (401, 413), (status, data)
            declared = facts["declared"]
            truthful_length = (
                declared is None
                or not declared.strip().isdigit()
                or (declared.isdigit() and int(declared) <= SMALL_LIMIT)
            )
            if (
                signature == facts["good_sig"]
                and _usable(facts["event"])
                and _usable(facts["delivery"])
                and (facts["content_type"] or b"").split(b";")[0].strip().lower()
                != b"application/x-www-form-urlencoded"
                and truthful_length
            ):
                assert 200 <= status < 300, (status, data)

        check()
        # Every stage was reached: signature, parsing, handlers, the size cap.
        assert {200, 202, 400, 401, 413} <= set(service.outcomes), service.outcomes
        assert service.sent >= EXAMPLES["headers"]
        assert service.review_count() == 0
        service.assert_accepts_a_good_delivery()


def test_signed_nonsense_bodies(make_settings: Callable[..., Settings]) -> None:
    with fuzz_service(make_settings) as service:

        @hsettings(max_examples=EXAMPLES["signed_bodies"], **FUZZ)
        @given(nonsense_body(), st.sampled_from(EVENTS))
        def check(case: tuple[bytes, str], event: str) -> None:
            body, content_type = case
            headers = delivery_headers(event, body)
            headers["content-type"] = content_type
            status, data = service.post(body, headers)
            no_work(status, data)
            if len(body) > SMALL_LIMIT:
                assert status == 413, (status, data)

        check()
        assert {200, 202, 400, 413} <= set(service.outcomes), service.outcomes
        assert service.sent >= EXAMPLES["signed_bodies"]
        assert service.review_count() == 0
        service.assert_accepts_a_good_delivery()


def test_wrong_types_in_the_fields_handlers_read(make_settings: Callable[..., Settings]) -> None:
    with fuzz_service(make_settings) as service:

        @hsettings(max_examples=EXAMPLES["wrong_types"], **FUZZ)
        @given(mutated_payload(optional_only=False))
        def check(case: tuple[str, bytes, bool]) -> None:
            event, body, may_review = case
            status, data = service.post(body, delivery_headers(event, body))
            assert not may_review
            if len(body) > SMALL_LIMIT:
                assert status == 413, (status, data)
            no_work(status, data)

        check()
        assert {202, 400, 413} <= set(service.outcomes), service.outcomes
        assert service.sent >= EXAMPLES["wrong_types"]
        assert service.review_count() == 0
        service.assert_accepts_a_good_delivery()


def test_wrong_types_in_optional_fields_are_not_stored(
    make_settings: Callable[..., Settings],
) -> None:
    """Fields a review can do without (title, refs, sender...) may hold anything; the stored job
    still has the types `ReviewJob` declares, so no worker trips over them later."""
    with fuzz_service(make_settings) as service:

        @hsettings(max_examples=EXAMPLES["optional_fields"], **FUZZ)
        @given(mutated_payload(optional_only=True))
        def check(case: tuple[str, bytes, bool]) -> None:
            event, body, may_review = case
            status, data = service.post(body, delivery_headers(event, body))
            if not may_review:
                no_work(status, data)
            for review_id in data.get("reviews", []):
                job = service.stored_job(review_id)
                assert isinstance(job.installation_id, int) and job.installation_id > 0
                assert isinstance(job.repo, str) and 0 < len(job.repo) <= 256
                comment_id = getattr(job, "comment_id", None)
                if comment_id is None:
                    assert isinstance(job.head_sha, str) and len(job.head_sha) == 40
                else:  # a /review command: the worker reads the PR's head itself
                    assert isinstance(comment_id, int) and 0 < comment_id < 2**63
                number = getattr(job, "number", None)  # typed jobs: only PR kinds have one
                assert number is None or (isinstance(number, int) and 0 < number < 2**31)
                for name in ("ref", "base_sha", "head_repo", "sender", "title", "body"):
                    value = getattr(job, name, None)
                    assert value is None or isinstance(value, str), (name, value)
                ref = getattr(job, "ref", None)
                assert ref is None or len(ref) <= 256  # the ledger's column

        check()
        assert {202} <= set(service.outcomes), service.outcomes
        assert service.sent >= EXAMPLES["optional_fields"]
        service.assert_accepts_a_good_delivery()


# --- deterministic cases ------------------------------------------------------------------------


async def _post(h: Harness, event: str, body: bytes, **headers: str) -> tuple[int, dict[str, Any]]:
    sent = delivery_headers(event, body)
    sent.update(headers)
    return answer_of(await h.client.post("/webhook", content=body, headers=sent))


@pytest.mark.parametrize("shape", ["array", "object", "mixed"])
async def test_200k_levels_of_nesting_are_a_400(idle_harness: Harness, shape: str) -> None:
    nested = deep(200_000, shape)
    for body in (nested, b'{"action":' + nested + b"}", deep(200_000, shape, closed=False)):
        status, data = await _post(idle_harness, "pull_request", body)
        assert status == 400, data
    assert await idle_harness.services.queue.size() == 0


async def test_a_24_mb_delivery_is_accepted_and_26_mb_is_413(idle_harness: Harness) -> None:
    assert idle_harness.services.settings.max_webhook_bytes == 25 * 1024 * 1024
    payload = push_payload(REPO, after=SHA_C, ref="refs/tags/v1")

    def padded(size: int) -> bytes:
        base = json.dumps({**payload, "padding": ""}).encode()
        return base[:-2] + b"x" * (size - len(base)) + b'"}'

    small = padded(24 * 1024 * 1024)
    assert len(small) == 24 * 1024 * 1024
    status, data = await _post(idle_harness, "push", small)
    assert status == 202 and data["status"] == "ignored", data

    large = padded(26 * 1024 * 1024)
    status, data = await _post(idle_harness, "push", large)
    assert (status, data) == (413, {"error": "payload too large"})

    async def chunks() -> Any:  # no Content-Length: the cap applies while streaming
        for start in range(0, len(large), 1024 * 1024):
            yield large[start : start + 1024 * 1024]

    response = await idle_harness.client.post(
        "/webhook", content=chunks(), headers=delivery_headers("push", large)
    )
    assert "content-length" not in response.request.headers
    assert answer_of(response) == (413, {"error": "payload too large"})


def _nested_action(depth: int) -> bytes:
    return b'{"action":' + deep(depth) + b', "installation": {"id": 1}}'


def _run_with_number(number: int) -> bytes:
    payload = _check_run(pulls=True)
    payload["check_run"]["pull_requests"][0]["number"] = number
    return dump(payload)


def _pr_with(**changes: Any) -> bytes:
    payload = pull_request_payload(REPO, 3, head_sha=SHA_A, base_sha=SHA_B)
    payload["pull_request"]["head"].update(changes)
    return dump(payload)


# Inputs that broke the service once: each is answered without a 5xx, on SQLite and on
# PostgreSQL, and the ones marked True do no work.
REGRESSIONS: list[tuple[str, str, bytes, bool]] = [
    (
        "check_run action is a list",
        "check_run",
        dump({**_check_run(pulls=True), "action": ["rerequested"]}),
        True,
    ),
    (
        "check_run action is an object",
        "check_run",
        dump({**_check_run(pulls=True), "action": {"rerequested": True}}),
        True,
    ),
    (
        "check_suite action is a list",
        "check_suite",
        b'{"action": [], "installation": {"id": 1}}',
        True,
    ),
    (
        "pull_request action is a list",
        "pull_request",
        dump(
            {**pull_request_payload(REPO, 3, head_sha=SHA_A, base_sha=SHA_B), "action": ["opened"]}
        ),
        True,
    ),
    ("pull_request action is an object", "pull_request", b'{"action": {}}', True),
    ("action nested 1000 deep (star)", "star", _nested_action(1000), True),
    ("action nested 1020 deep (installation)", "installation", _nested_action(1020), True),
    ("action nested 1020 deep (pull_request)", "pull_request", _nested_action(1020), True),
    (
        "installation.id is 2**63",
        "push",
        dump({**push_payload(REPO, after=SHA_C), "installation": {"id": 2**63}}),
        True,
    ),
    (
        "installation.id is 2**64-1 on an ignored event",
        "star",
        b'{"action": "created", "installation": {"id": 18446744073709551615}}',
        True,
    ),
    (
        "pull_request.number is 2**63",
        "pull_request",
        dump(pull_request_payload(REPO, 2**63, head_sha=SHA_A, base_sha=SHA_B)),
        True,
    ),
    (
        "pull_request.number is 2**31 (an INTEGER column)",
        "pull_request",
        dump(pull_request_payload(REPO, 2**31, head_sha=SHA_A, base_sha=SHA_B)),
        True,
    ),
    ("check_run pull_requests[0].number is 2**63", "check_run", _run_with_number(2**63), True),
    # PostgreSQL refuses NUL in text and over-long values in VARCHAR(n) columns.
    ("NUL in action", "star", b'{"action": "x\\u0000y", "installation": {"id": 1}}', True),
    (
        "NUL in repository.full_name",
        "push",
        dump({**push_payload(REPO, after=SHA_C), "repository": {"full_name": "acme/t\x00"}}),
        True,
    ),
    ("NUL in the head ref", "pull_request", _pr_with(ref="feature\x00x"), False),
    (
        "NUL in the sender",
        "pull_request",
        dump(
            {
                **pull_request_payload(REPO, 3, head_sha=SHA_A, base_sha=SHA_B),
                "sender": {"login": "a\x00b"},
            }
        ),
        False,
    ),
    ("300-character head ref", "pull_request", _pr_with(ref="f" * 300), False),
    (
        "300-character repository.full_name",
        "push",
        dump({**push_payload(REPO, after=SHA_C), "repository": {"full_name": "a/" + "b" * 298}}),
        True,
    ),
]


@pytest.fixture
async def backend_idle_harness(backend_settings: Settings) -> AsyncIterator[Harness]:
    """`idle_harness` on each stack: SQLite in-process, and PostgreSQL with arq on Redis."""
    async with harness_for(
        backend_settings, None, start_workers=False, reviewers=lambda job: ()
    ) as h:
        yield h


@pytest.mark.parametrize(
    ("event", "body", "nothing"), [pytest.param(e, b, n, id=name) for name, e, b, n in REGRESSIONS]
)
async def test_known_hostile_deliveries(
    backend_idle_harness: Harness, event: str, body: bytes, nothing: bool
) -> None:
    status, data = await _post(backend_idle_harness, event, body)
    if nothing:
        no_work(status, data)
        assert await backend_idle_harness.services.queue.size() == 0


async def test_the_service_still_reviews_after_hostile_input(
    harness: Harness, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    """Workers running, wired to the fake GitHub: hostile deliveries first, then a real review."""
    app = create_app(harness.services.settings, services=harness.services)
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    hostile = [(event, body) for _, event, body, nothing in REGRESSIONS if nothing]
    hostile += [
        ("pull_request", deep(200_000)),
        ("push", b"\xff\xfe{"),
        ("push", GOOD[:100]),
        ("pull_request", GOOD.replace(SHA_A.encode(), b"1" * 39)),
        ("ping", b'{"zen": "' + b"z" * 100_000 + b'"}'),
    ]
    failures = []
    async with httpx2.AsyncClient(transport=transport, base_url="http://relo.test") as client:
        for event, body in hostile:
            response = await client.post(
                "/webhook", content=body, headers=delivery_headers(event, body)
            )
            try:
                no_work(*answer_of(response))
            except AssertionError as exc:
                failures.append((event, body[:80], response.status_code, str(exc)[:200]))
    await harness.settle()
    assert fake_github.requests == []

    git = GitRepo.init(tmp_path / "repo")
    git.commit({"README.md": "# Task\n"}, "starter")
    fake_github.add_repo(REPO, git, installation_id=1)
    git.commit({"app/solution.py": "import sys\n"}, "work", branch="feature")
    git.checkout("main")
    fake_github.add_pull(REPO, 3, head_ref="feature")
    good = pull_request_payload(REPO, 3, head_sha=git.rev("feature"), base_sha=git.rev("main"))
    response = await harness.deliver("pull_request", good)
    assert response.status_code == 202 and response.json()["reviews"]
    await harness.settle()
    [run] = fake_github.runs_for(REPO)
    assert run["status"] == "completed" and run["head_sha"] == git.rev("feature")
    [comment] = fake_github.comments_on(REPO, 3)
    assert comment["body"].startswith(COMMENT_MARKER)
    assert not failures, failures
