"""Prompt caching: every request of an assignment starts with the same text (instructions, output
shape, brief, rubric) and only then says what varies (evidence, part, the fence's nonce); the
provider's cached prompt tokens are recorded and billed at the cached rate."""

from __future__ import annotations

import json
import re

import httpx2
import openai
import pytest

from app.review.llm import LLMReviewer, LLMReviewError, price_usd
from app.review.models import Change, ChangedFile, Criterion, Submission, Usage
from app.review.prompt import FENCE_OPEN, build_messages, stable_prefix
from app.review.prompt_plan import plan_requests
from app.review.prompt_tests import PromptEvidence
from tests.fakes.llm import Json, answer

RUBRIC = (Criterion("correctness", "Does what the brief asks", 10),)
BRIEF = "Build a URL shortener with an HTTP API."
MODEL = "gpt-4o-mini"


def added(path: str, lines: list[str]) -> ChangedFile:
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join(f"+{t}" for t in lines)
    return ChangedFile(path, "added", frozenset(range(1, len(lines) + 1)), patch, len(lines))


def system_of(messages: list[object]) -> str:
    return str(messages[0]["content"])  # type: ignore[index]


def test_requests_share_everything_before_what_varies() -> None:
    small = plan_requests([added("a.py", ["x = 1"])]).requests[0]
    other = plan_requests([added("b/c.py", ["y = 2", "z = 3"])]).requests[0]
    first = system_of(build_messages(BRIEF, RUBRIC, small))  # type: ignore[arg-type]
    second = system_of(
        build_messages(  # type: ignore[arg-type]
            BRIEF,
            RUBRIC,
            other,
            part=2,
            parts=3,
            evidence=PromptEvidence(trusted="## Hidden tests\n3 of 4 passed"),
        )
    )
    prefix = stable_prefix(BRIEF, RUBRIC)
    assert first.startswith(prefix) and second.startswith(prefix)
    assert BRIEF in prefix and "correctness (10 points)" in prefix and '"findings"' in prefix
    nonces = [re.search(r"<<<SUBMISSION-([0-9a-f]{32})>>>", s) for s in (first, second)]
    assert all(n is not None for n in nonces) and nonces[0] != nonces[1]
    # The nonce, the part and the evidence all come after the shared prefix, the nonce last.
    for text in (first, second):
        assert text.index("SUBMISSION-") > len(prefix)
        assert text.rsplit("\n\n", 1)[1].startswith("Submission markers of this request: <<<")
    assert second.index("part 2 of 3") > len(prefix)
    assert second.index("## Hidden tests") > len(prefix)
    assert "SUBMISSION-" not in prefix and "part " not in prefix.split("## Brief")[1]


def test_the_fence_still_closes_with_the_nonce_the_system_message_names() -> None:
    request = plan_requests([added("a.py", ["x = 1"])]).requests[0]
    system, user = build_messages(BRIEF, RUBRIC, request, make_nonce=lambda: "ab" * 16)
    assert str(user["content"]).startswith(FENCE_OPEN.format(nonce="ab" * 16) + "\n")
    assert str(system["content"]).endswith(
        "<<<SUBMISSION-abababababababababababababababab>>> opens it and "
        "<<<END-SUBMISSION-abababababababababababababababab>>> closes it."
    )


def test_cached_tokens_are_billed_at_the_cached_rate_where_the_table_has_one() -> None:
    usage = Usage(MODEL, 10_000, 1_000, cached_tokens=8_000)
    with_cached = {MODEL: (0.15, 0.60, 0.075)}
    assert price_usd(usage, with_cached) == pytest.approx(
        (2_000 * 0.15 + 8_000 * 0.075 + 1_000 * 0.60) / 1e6
    )
    assert price_usd(usage, {MODEL: (0.15, 0.60)}) == pytest.approx(
        (10_000 * 0.15 + 1_000 * 0.60) / 1e6
    )
    # A server reporting more cached than prompt tokens is not trusted into a negative bill.
    odd = Usage(MODEL, 100, 0, cached_tokens=1_000)
    assert price_usd(odd, with_cached) == pytest.approx(100 * 0.075 / 1e6)


def provider(cached: int | None, *, valid: bool = True) -> httpx2.MockTransport:
    """An OpenAI-shaped server that reports `cached` prompt tokens as OpenAI does."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        body: Json = json.loads(request.content)
        content = json.dumps(answer(body)) if valid else "not json"
        usage: Json = {"prompt_tokens": 2_000, "completion_tokens": 50, "total_tokens": 2_050}
        if cached is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            },
        )

    return httpx2.MockTransport(handle)


@pytest.mark.parametrize(("cached", "expected"), [(1_536, 1_536), (None, 0)])
async def test_the_providers_cached_tokens_are_recorded_in_the_usage(
    cached: int | None, expected: int
) -> None:
    sdk = openai.AsyncOpenAI(
        base_url="http://llm.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=provider(cached)),
    )
    change = Change("base", "head", (added("a.py", ["x = 1", "y = 2"]),))
    try:
        result = await LLMReviewer(sdk, MODEL, RUBRIC, BRIEF).assess(Submission("o/r", change))
    finally:
        await sdk.close()
    (usage,) = result.usage
    assert (usage.prompt_tokens, usage.cached_tokens) == (2_000, expected)
    assert result.criteria[0].score is not None


async def test_cached_tokens_of_an_unusable_answer_are_recorded_too() -> None:
    sdk = openai.AsyncOpenAI(
        base_url="http://llm.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=provider(1_024, valid=False)),
    )
    change = Change("base", "head", (added("a.py", ["x = 1"]),))
    try:
        with pytest.raises(LLMReviewError) as caught:
            await LLMReviewer(sdk, MODEL, RUBRIC, BRIEF).assess(Submission("o/r", change))
    finally:
        await sdk.close()
    spent = caught.value.usage
    assert [u.cached_tokens for u in spent] == [1_024, 1_024]
