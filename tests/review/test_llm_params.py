"""Which parameters each model is sent: OpenAI's reasoning models (o-series, gpt-5 family) reject
`max_tokens` and temperature 0 with a 400, so they get `max_completion_tokens` and no temperature.

The fake answers such models the way OpenAI does (tests/fakes/llm.py `_sampling_rejected`); the
assertions are on the requests it received and on the review the reviewer returns.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import openai
import pytest

from app.review.llm import LLMReviewer
from app.review.llm_wire import is_reasoning_model
from app.review.models import Change, ChangedFile, Criterion, Submission
from tests.fakes.llm import FakeLLM, Json, ScriptedReply, good

RUBRIC = (Criterion("correctness", "Does what the brief asks", 10),)
PATCH = "@@ -0,0 +1,3 @@\n+def shorten(url):\n+    if not url:\n+        return None"
SUBMISSION = Submission(
    "acme/task",
    Change("base", "head", (ChangedFile("app.py", "added", frozenset({1, 2, 3}), PATCH, 3),)),
)


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
async def client(fake: FakeLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = fake.client(max_retries=0)
    yield sdk
    await sdk.close()


def sampling(request: Json) -> dict[str, object]:
    keys = ("max_tokens", "max_completion_tokens", "temperature", "seed")
    return {k: request[k] for k in keys if k in request}


@pytest.mark.parametrize("model", ["o1", "o3-mini", "o4-mini-2025-04-16", "gpt-5", "gpt-5.1-mini"])
async def test_reasoning_models_get_max_completion_tokens_and_no_temperature(
    fake: FakeLLM, client: openai.AsyncOpenAI, model: str
) -> None:
    fake.script(good())
    llm = LLMReviewer(client, model, RUBRIC, "brief", max_answer_tokens=2048)
    result = await llm.assess(SUBMISSION)
    assert [c.score for c in result.criteria] == [7.5]
    (sent,) = fake.requests  # accepted the first time: nothing rejected, nothing billed twice
    assert sampling(sent) == {"max_completion_tokens": 2048, "seed": 7}
    assert sent["response_format"]["type"] == "json_schema"


async def test_other_models_keep_max_tokens_and_temperature_zero(
    fake: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    fake.script(good())
    await LLMReviewer(client, "gpt-4.1-mini", RUBRIC, "brief").assess(SUBMISSION)
    (sent,) = fake.requests
    assert sampling(sent) == {"max_tokens": 4096, "temperature": 0, "seed": 7}


async def test_a_deployment_named_otherwise_is_learnt_from_its_400() -> None:
    """An Azure deployment of o3-mini can be called "grader": a 400 names the parameter; the
    request is sent again without it, and so are all the review's later requests."""
    fake = FakeLLM(reasoning_models=re.compile("grader$"))
    body = "\n".join(f"+    total_{n} = compute_value({n}) * 2" for n in range(40))
    files = tuple(
        ChangedFile(f"m{i}.py", "added", frozenset(range(1, 41)), f"@@ -0,0 +1,40 @@\n{body}", 40)
        for i in range(12)
    )
    fake.script(*[good()] * 20)
    client = fake.client(max_retries=0)
    try:
        llm = LLMReviewer(client, "grader", RUBRIC, "brief", budget_tokens=1500, concurrency=2)
        result = await llm.assess(Submission("acme/task", Change("base", "head", files)))
    finally:
        await client.close()
    assert result.criteria[0].score == 7.5
    rejected = [r for r in fake.requests if "max_tokens" in r]
    answered = [r for r in fake.requests if "max_tokens" not in r]
    parts = len(answered)
    assert parts > 2  # several requests, so "later requests" means something
    assert all(sampling(r) == {"max_completion_tokens": 4096, "seed": 7} for r in answered)
    assert all(r["response_format"]["type"] == "json_schema" for r in answered)
    # Only the requests already in flight when the first 400 came back carried it.
    assert 1 <= len(rejected) <= 2
    assert fake.requests[0] in rejected


async def test_a_server_that_names_seed_as_unsupported_is_asked_without_it() -> None:
    def seedless(request: Json) -> ScriptedReply:
        if "seed" in request:
            return ScriptedReply(
                status=400, error="Unsupported parameter: 'seed'.", param="seed"
            )
        return good()(request)

    fake = FakeLLM()
    fake.script(seedless, seedless)
    client = fake.client(max_retries=0)
    try:
        result = await LLMReviewer(client, "local-model", RUBRIC, "brief").assess(SUBMISSION)
    finally:
        await client.close()
    assert result.criteria[0].score == 7.5
    assert [sampling(r) for r in fake.requests] == [
        {"max_tokens": 4096, "temperature": 0, "seed": 7},
        {"max_tokens": 4096, "temperature": 0},
    ]


async def test_an_unnamed_rejection_still_falls_back_to_json_object(
    fake: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    fake.script(ScriptedReply(status=400, error="json_schema is not supported"), good())
    result = await LLMReviewer(client, "o3-mini", RUBRIC, "brief").assess(SUBMISSION)
    assert result.criteria[0].score == 7.5
    assert [r["response_format"]["type"] for r in fake.requests] == ["json_schema", "json_object"]
    assert all("max_tokens" not in r and "temperature" not in r for r in fake.requests)


def test_reasoning_models_are_known_by_name() -> None:
    known = ["o1", "o1-mini", "o3", "o3-pro", "o4-mini", "gpt-5", "gpt-5-nano", "openai/o3-mini"]
    assert all(is_reasoning_model(m) for m in known)
    others = ["gpt-4o-mini", "gpt-4.1", "gpt-50", "llama3.1:8b", "qwen2.5-coder", "ollama/o"]
    assert not any(is_reasoning_model(m) for m in others)
