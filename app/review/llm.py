"""The LLM reviewer: grades the change against the rubric with any OpenAI-compatible server.

The model is treated as an unreliable witness: its answer is validated in code (scores clamped,
citations outside the change dropped and counted, missing criteria left "not assessed"), and a
refusal, truncation or unparseable answer is retried once before the review fails with a sentence.

Planning a large change is CPU work (rendering, masking and packing every file), so it runs in a
worker thread and the event loop keeps serving webhooks and other reviews meanwhile.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import openai
import pydantic
from openai.types.chat import ChatCompletionMessageParam

from app.review.llm_answer import (
    PartResult,
    ReviewAnswer,
    dedupe_findings,
    merge_parts,
    validate_answer,
)
from app.review.llm_wire import RequestMode, Sampling, api_failure, usage_from_body, usage_of
from app.review.models import (
    Change,
    Criterion,
    CriterionScore,
    Finding,
    ReviewerResult,
    ReviewError,
    SkippedFile,
    Submission,
    Usage,
)
from app.review.pipeline import ChangedLines
from app.review.prompt import build_messages, fixed_prompt_tokens
from app.review.prompt_hunks import identity
from app.review.prompt_plan import DEFAULT_BUDGET_TOKENS, Plan, plan_requests
from app.review.prompt_tests import PromptEvidence

log = logging.getLogger(__name__)

# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LLMAssessment:
    """The merged result of every request of one review."""

    summary: str
    criteria: tuple[CriterionScore, ...]
    findings: tuple[Finding, ...]
    dropped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    usage: tuple[Usage, ...] = ()
    files_not_reviewed: tuple[SkippedFile, ...] = ()


class LLMReviewError(ReviewError):
    """A ReviewError that still carries the tokens spent, so failed reviews are costed too."""

    def __init__(self, message: str, usage: Sequence[Usage] = ()) -> None:
        super().__init__(message)
        self.usage = tuple(usage)


def price_usd(usage: Usage | Iterable[Usage], prices: Mapping[str, tuple[float, ...]]) -> float:
    """Cost from per-million-token (input, output[, cached input]) prices by model.

    A dated model name ("gpt-4o-mini-2024-07-18") takes the price of its longest listed prefix;
    a model missing from the table costs 0 (the operator's table is the source of truth). Prompt
    tokens the provider served from its cache are billed at the cached-input price where the
    table gives one, else at the input price.
    """
    items = (usage,) if isinstance(usage, Usage) else tuple(usage)
    total = 0.0
    for u in items:
        key = (
            u.model
            if u.model in prices
            else max((m for m in prices if u.model.startswith(m)), key=len, default=None)
        )
        if key is None:
            continue
        input_price, output_price, *rest = prices[key]
        cached_price = rest[0] if rest else input_price
        cached = min(max(u.cached_tokens, 0), u.prompt_tokens)
        total += (
            (u.prompt_tokens - cached) * input_price
            + cached * cached_price
            + u.completion_tokens * output_price
        ) / 1_000_000
    return total


# --- talking to the server --------------------------------------------------------------------

_FENCED_JSON = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class _Unusable(Exception):
    """The server answered, but not with a usable review: worth one retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LLMReviewer:
    """Reviewer protocol (`review`) plus `assess` for the rubric scores."""

    name = "llm"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        rubric: Sequence[Criterion],
        brief: str,
        budget_tokens: int = DEFAULT_BUDGET_TOKENS,
        max_total_tokens: int | None = None,
        mask: Callable[[str], str] = identity,
        seed: int = 7,
        concurrency: int = 4,
        max_answer_tokens: int = 4096,
    ) -> None:
        self._client = client
        self._model = model
        self._rubric = tuple(rubric)
        self._brief = brief
        self._budget = budget_tokens
        self._max_total = max_total_tokens
        self._mask = mask
        self._seed = seed
        self._concurrency = max(concurrency, 1)
        # A looping model would otherwise write (and bill) until the server's own limit.
        self._max_answer = max_answer_tokens

    def masked_with(self, extra: Callable[[str], str]) -> LLMReviewer:
        """This reviewer with `extra` applied after its own mask to everything it sends."""
        clone = copy.copy(self)
        inner = self._mask
        clone._mask = lambda text: extra(inner(text))
        return clone

    def plan(self, submission: Submission, evidence: PromptEvidence | None = None) -> Plan:
        """The requests this submission needs (pure; exposed for the pipeline and benchmarks)."""
        overhead = fixed_prompt_tokens(self._brief, self._rubric, evidence=evidence)
        if overhead >= self._budget:
            raise LLMReviewError(
                "The brief and rubric alone exceed the per-request token budget; raise the budget "
                "or shorten the brief."
            )
        return plan_requests(
            submission.change.files,
            self._budget,
            self._max_total,
            contents=submission.contents,
            mask=self._mask,
            overhead_tokens=overhead,
        )

    async def review(self, submission: Submission) -> ReviewerResult:
        assessment = await self.assess(submission)
        notes = [
            f"Not reviewed by the LLM: {s.path} ({s.reason})."
            for s in assessment.files_not_reviewed
        ]
        if dropped := sum(assessment.dropped.values()):
            detail = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in assessment.dropped.items())
            notes.append(f"The LLM's answer had {dropped} item(s) dropped by validation: {detail}.")
        return ReviewerResult(findings=assessment.findings, notes=tuple(notes))

    def _prepare(
        self, change: Change, submission: Submission, evidence: PromptEvidence | None
    ) -> tuple[Plan, ChangedLines]:
        return self.plan(submission, evidence), ChangedLines(change)

    async def assess(
        self, submission: Submission, evidence: PromptEvidence | None = None
    ) -> LLMAssessment:
        """`evidence`: the review's hidden-test results, trusted parts and candidate output."""
        evidence = evidence.masked(self._mask) if evidence else None
        plan, changed = await asyncio.to_thread(
            self._prepare, submission.change, submission, evidence
        )
        if not plan.requests:
            return LLMAssessment(
                summary="",
                findings=(),
                files_not_reviewed=plan.not_reviewed,
                criteria=tuple(CriterionScore(c.id, c.points, None) for c in self._rubric),
            )
        parts = len(plan.requests)
        spent: list[Usage] = []
        mode = RequestMode.for_model(self._model)
        gate = asyncio.Semaphore(self._concurrency)

        async def run(index: int) -> PartResult:
            messages = build_messages(
                self._brief,
                self._rubric,
                plan.requests[index],
                part=index + 1,
                parts=parts,
                evidence=evidence,
            )
            async with gate:
                answer = await self._ask(messages, mode, spent, index + 1, parts)
            return validate_answer(answer, self._rubric, changed)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(run(i)) for i in range(parts)]
        except* ReviewError as failures:
            first = failures.exceptions[0]
            raise LLMReviewError(str(first), spent) from first
        results = [t.result() for t in tasks]
        summary, criteria = merge_parts(
            results, [r.code_tokens for r in plan.requests], self._rubric
        )
        dropped: Counter[str] = Counter()
        for r in results:
            dropped.update(r.dropped)
        return LLMAssessment(
            summary=summary,
            criteria=criteria,
            findings=dedupe_findings(f for r in results for f in r.findings),
            dropped=MappingProxyType(dict(dropped)),
            usage=tuple(spent),
            files_not_reviewed=plan.not_reviewed,
        )

    async def _ask(
        self,
        messages: list[ChatCompletionMessageParam],
        mode: RequestMode,
        spent: list[Usage],
        part: int,
        parts: int,
    ) -> ReviewAnswer:
        """One request, retried once when the answer is unusable."""
        reason = ""
        for _attempt in range(2):
            try:
                return await self._request(messages, mode, spent)
            except _Unusable as exc:
                reason = exc.reason
                log.info("LLM answer unusable (%s); part %d of %d", reason, part, parts)
            except openai.APIError as exc:
                raise ReviewError(api_failure(exc)) from exc
        where = f" for part {part} of {parts}" if parts > 1 else ""
        raise ReviewError(
            f"The LLM reviewer gave no usable answer{where}, twice: {reason}. "
            "The rubric was not scored; the review can be re-run."
        )

    async def _request(
        self, messages: list[ChatCompletionMessageParam], mode: RequestMode, spent: list[Usage]
    ) -> ReviewAnswer:
        """One answer, in the first shape and with the first parameters the server accepts."""
        while True:
            structured = mode.json_schema
            sampling = mode.sampling(self._max_answer, self._seed)
            try:
                if structured:
                    return await self._request_structured(messages, sampling, spent)
                return await self._request_json_object(messages, sampling, spent)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if isinstance(exc, openai.BadRequestError) and mode.drop_rejected(exc, sampling):
                    continue
                if not structured:
                    raise
                log.info("LLM server rejected json_schema; falling back to json_object")
                mode.json_schema = False

    async def _request_structured(
        self, messages: list[ChatCompletionMessageParam], sampling: Sampling, spent: list[Usage]
    ) -> ReviewAnswer:
        raw = await self._client.chat.completions.with_raw_response.parse(
            model=self._model,
            messages=messages,
            response_format=ReviewAnswer,
            max_tokens=sampling.max_tokens,
            max_completion_tokens=sampling.max_completion_tokens,
            temperature=sampling.temperature,
            seed=sampling.seed,
        )
        try:
            completion = raw.parse()
        except openai.LengthFinishReasonError as exc:
            spent.append(usage_of(self._model, exc.completion))
            raise _Unusable("the answer was cut off at the length limit") from exc
        except openai.ContentFilterFinishReasonError as exc:
            spent.append(usage_from_body(self._model, raw.http_response))
            raise _Unusable("the server's content filter stopped the answer") from exc
        except pydantic.ValidationError as exc:
            spent.append(usage_from_body(self._model, raw.http_response))
            raise _Unusable("the answer was not valid JSON of the expected shape") from exc
        spent.append(usage_of(self._model, completion))
        if not completion.choices:
            raise _Unusable("the answer was empty")
        message = completion.choices[0].message
        if message.refusal:
            raise _Unusable("the model refused to review")
        if message.parsed is None:
            raise _Unusable("the answer was empty")
        return message.parsed

    async def _request_json_object(
        self, messages: list[ChatCompletionMessageParam], sampling: Sampling, spent: list[Usage]
    ) -> ReviewAnswer:
        completion = await self._client.chat.completions.create(
            model=self._model,
            messages=messages,
            response_format={"type": "json_object"},
            max_tokens=sampling.max_tokens,
            max_completion_tokens=sampling.max_completion_tokens,
            temperature=sampling.temperature,
            seed=sampling.seed,
        )
        spent.append(usage_of(self._model, completion))
        if not completion.choices:
            raise _Unusable("the answer was empty")
        choice = completion.choices[0]
        if choice.finish_reason == "length":
            raise _Unusable("the answer was cut off at the length limit")
        if choice.message.refusal:
            raise _Unusable("the model refused to review")
        content = choice.message.content or ""
        fenced = _FENCED_JSON.match(content)
        try:
            return ReviewAnswer.model_validate_json(fenced.group(1) if fenced else content)
        except pydantic.ValidationError as exc:
            raise _Unusable("the answer was not valid JSON of the expected shape") from exc
