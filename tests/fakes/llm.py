"""A local OpenAI-compatible chat-completions server, scripted per test.

It speaks enough of `POST /v1/chat/completions` for the real `openai` SDK: both response formats,
the response envelope with usage, OpenAI-shaped errors with retry headers. Tests drive it
in-process through `httpx2.ASGITransport` (`client()`), or over real HTTP with `serve()`.

Presets read the prompt the way a model would: criteria from the system message's rubric lines,
citable lines from the numbered "+" lines inside the fence, so their answers fit any change.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jsonschema  # type: ignore[import-untyped]
import openai
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.github_http import serve_in_thread

Json = dict[str, Any]


@dataclass(frozen=True)
class ScriptedReply:
    """One HTTP answer. `status != 200` sends an OpenAI-shaped error with `error` as message."""

    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    error: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    param: str | None = None  # the request parameter an error names, as OpenAI's errors do


Responder = Callable[[Json], ScriptedReply]
Step = Responder | ScriptedReply

# The SDK treats `retry-after: 0` as "no advice" and backs off ~0.5 s; `retry-after-ms: 1` makes
# its retry immediate, so tests never sleep.
FAST_RETRY = {"retry-after": "0", "retry-after-ms": "1"}


# --- reading the prompt like a model would ------------------------------------------------------

_RUBRIC_LINE = re.compile(r"^- (\S+) \((\d+) points?\):", re.MULTILINE)
_FILE_LINE = re.compile(r"^=== FILE (.+?) \(([^)]*)\) ===$", re.MULTILINE)
_PLUS_LINE = re.compile(r"^\s*(\d+) \+( |$)")
_CONTEXT_LINE = re.compile(r"^\s*(\d+)   ")


def message_text(request: Json, role: str) -> str:
    return "\n".join(
        m["content"] for m in request["messages"] if m["role"] == role and m.get("content")
    )


def rubric_of(request: Json) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in _RUBRIC_LINE.finditer(message_text(request, "system"))]


def files_of(request: Json) -> dict[str, dict[str, list[int]]]:
    """path -> {"added": [...], "context": [...]} new-side line numbers shown in the prompt."""
    files: dict[str, dict[str, list[int]]] = {}
    current: dict[str, list[int]] | None = None
    for line in message_text(request, "user").split("\n"):
        if header := _FILE_LINE.match(line):
            current = files.setdefault(header[1], {"added": [], "context": []})
        elif current is not None and (plus := _PLUS_LINE.match(line)):
            current["added"].append(int(plus[1]))
        elif current is not None and (ctx := _CONTEXT_LINE.match(line)):
            current["context"].append(int(ctx[1]))
    return files


def answer(
    request: Json,
    *,
    fraction: float = 0.75,
    summary: str = "A clear solution with a few rough edges.",
    criteria: list[tuple[str, int]] | None = None,
    path: str | None = None,
    line: int | None = None,
    score: Callable[[int], float] | None = None,
) -> Json:
    """A well-formed answer citing the first added line of the first file shown."""
    files = {p: f for p, f in files_of(request).items() if f["added"]}
    first_path = next(iter(files), "missing.py")
    cite_path = path or first_path
    cite_line = line or (files[first_path]["added"][0] if files else 1)
    where = {"path": cite_path, "start_line": cite_line, "end_line": cite_line}
    return {
        "summary": summary,
        "criteria": [
            {
                "id": cid,
                "score": score(points) if score else round(points * fraction, 2),
                "rationale": f"{cid} is mostly met.",
                "evidence": [where],
            }
            for cid, points in (rubric_of(request) if criteria is None else criteria)
        ],
        "findings": [
            {
                **where,
                "severity": "warning",
                "title": "Unchecked input",
                "message": "The value is used without validation.",
                "suggestion": "Validate it first.",
            }
        ],
    }


def _reply(body: Json) -> ScriptedReply:
    return ScriptedReply(content=json.dumps(body))


# --- presets --------------------------------------------------------------------------------------


def good(
    fraction: float = 0.75, summary: str = "A clear solution, a few rough edges."
) -> Responder:
    return lambda req: _reply(answer(req, fraction=fraction, summary=summary))


def lines_outside_change() -> Responder:
    """Cites a context line and a line far beyond the change (both must be dropped)."""

    def respond(req: Json) -> ScriptedReply:
        body = answer(req)
        files = files_of(req)
        path = next(iter(files))
        context = files[path]["context"][0] if files[path]["context"] else 99_999
        body["findings"].append({**body["findings"][0], "start_line": 99_999, "end_line": 99_999})
        body["findings"][0].update(start_line=context, end_line=context)
        for c in body["criteria"]:
            c["evidence"] = [{"path": path, "start_line": 99_999, "end_line": 100_010}]
        return _reply(body)

    return respond


def paths_not_in_change() -> Responder:
    return lambda req: _reply(answer(req, path="src/invented.py", line=1))


def scores_above_points() -> Responder:
    """Scores over the points, one negative score, and a criterion the rubric does not have."""

    def respond(req: Json) -> ScriptedReply:
        body = answer(req, score=lambda points: points * 3 + 5)
        if len(body["criteria"]) > 1:
            body["criteria"][1]["score"] = -4
        body["criteria"].append({"id": "bonus", "score": 100, "rationale": "", "evidence": []})
        return _reply(body)

    return respond


def missing_criteria() -> Responder:
    """Assesses only the first rubric criterion."""
    return lambda req: _reply(answer(req, criteria=rubric_of(req)[:1]))


def refusal(text: str = "I'm sorry, but I can't help with that.") -> ScriptedReply:
    return ScriptedReply(content=None, refusal=text)


def truncated() -> Responder:
    def respond(req: Json) -> ScriptedReply:
        text = json.dumps(answer(req))
        return ScriptedReply(content=text[: len(text) // 2], finish_reason="length")

    return respond


def rate_limited() -> ScriptedReply:
    return ScriptedReply(status=429, error="Rate limit reached; retry later.", headers=FAST_RETRY)


def server_error() -> ScriptedReply:
    return ScriptedReply(status=500, error="The server had an error.", headers=FAST_RETRY)


def malformed_json() -> ScriptedReply:
    return ScriptedReply(content='{"summary": "Looks good", "criteria": [{"id": ')


def json_schema_rejected() -> ScriptedReply:
    return ScriptedReply(
        status=400, error="response_format 'json_schema' is not supported by this server."
    )


# --- the server -----------------------------------------------------------------------------------


# OpenAI's reasoning models (o1, o3-mini, o4-mini, the gpt-5 family) as the real API knows them.
REASONING_MODEL = re.compile(r"^(?:o\d+|gpt-5)(?![a-z0-9])")


def _sampling_rejected(body: Json) -> tuple[str, str, str] | None:
    """(message, param, code) of the 400 OpenAI sends a reasoning model's request that carries
    `max_tokens` or a temperature other than 1 (`max_completion_tokens` is what they take)."""
    if body.get("max_tokens") is not None:
        return (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return (
            f"Unsupported value: 'temperature' does not support {temperature} with this model. "
            "Only the default (1) value is supported.",
            "temperature",
            "unsupported_value",
        )
    return None


class FakeLLM:
    """Scripted OpenAI-compatible server; every request body is kept in `requests`.

    Models matching `reasoning_models` answer like OpenAI's reasoning models do (an Azure
    deployment of one can be given any name)."""

    def __init__(
        self,
        *,
        supports_json_schema: bool = True,
        api_key: str = "test",
        reasoning_models: re.Pattern[str] = REASONING_MODEL,
    ) -> None:
        self.supports_json_schema = supports_json_schema
        self.api_key = api_key
        self.reasoning_models = reasoning_models
        self.requests: list[Json] = []
        self.cached_tokens = 0  # how many prompt tokens each answer says came from the cache
        self._script: deque[Step] = deque()
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])

    def script(self, *steps: Step) -> None:
        """Queue answers, one per request in arrival order (SDK retries consume steps too)."""
        self._script.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def client(self, *, max_retries: int = 1) -> openai.AsyncOpenAI:
        """The real SDK, wired in-process to this app; close it with `await client.close()`."""
        transport = httpx2.ASGITransport(app=self.app)
        return openai.AsyncOpenAI(
            base_url="http://fake-llm.test/v1",
            api_key=self.api_key,
            max_retries=max_retries,
            http_client=httpx2.AsyncClient(transport=transport),
        )

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Run on 127.0.0.1 on a free port in a thread; yields the SDK base URL."""
        with serve_in_thread(self.app) as url:
            yield f"{url}/v1"

    # -- the endpoint --

    async def _chat(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "We could not parse the JSON body of your request.")
        self.requests.append(body)
        if self.reasoning_models.match(str(body.get("model"))) and (
            rejected := _sampling_rejected(body)
        ):
            message, param, code = rejected
            return _error(400, message, code, param=param)
        if problem := self._invalid(body):
            return _error(400, problem)
        step = self._script.popleft() if self._script else _EXHAUSTED
        reply = step if isinstance(step, ScriptedReply) else step(body)
        if reply.status != 200:
            return _error(reply.status, reply.error, headers=reply.headers, param=reply.param)
        return JSONResponse(self._envelope(body, reply), headers=dict(reply.headers))

    def _invalid(self, body: Json) -> str | None:
        """The request contract the real API enforces, so a wrong request fails a test."""
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "you must provide a model parameter"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        for m in messages:
            if m.get("role") not in {"system", "developer", "user", "assistant", "tool"}:
                return f"invalid role {m.get('role')!r}"
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            if not self.supports_json_schema:
                return "response_format 'json_schema' is not supported by this server."
            try:
                jsonschema.Draft202012Validator.check_schema(fmt["json_schema"]["schema"])
            except (KeyError, jsonschema.SchemaError) as exc:
                return f"invalid json_schema: {exc}"
        if fmt.get("type") == "json_object" and not any(
            "json" in str(m.get("content", "")).lower() for m in messages
        ):
            return (
                "'messages' must contain the word 'json' in some form, to use 'response_format' "
                "of type 'json_object'."
            )
        return None

    def _envelope(self, body: Json, reply: ScriptedReply) -> Json:
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in body["messages"]) // 4
        completion_tokens = len(reply.content or reply.refusal or "") // 4
        return {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": reply.content,
                        "refusal": reply.refusal,
                    },
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                # As OpenAI reports a prompt prefix served from its cache.
                "prompt_tokens_details": {
                    "cached_tokens": min(self.cached_tokens, prompt_tokens)
                },
            },
        }


_EXHAUSTED = ScriptedReply(
    status=500,
    error="fake LLM: the test's script has no answer left for this request.",
    headers={"x-should-retry": "false"},
)


def _error(
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    param: str | None = None,
) -> JSONResponse:
    kind = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_exceeded"}
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": kind.get(status, "server_error"),
                "param": param,
                "code": code,
            }
        },
        status_code=status,
        headers=dict(headers or {}),
    )
