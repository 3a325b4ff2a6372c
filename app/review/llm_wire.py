"""How the LLM reviewer speaks to an OpenAI-compatible server: which parameters each request
carries, what a response cost, and one sentence per failure.

Servers differ in what they accept. OpenAI's reasoning models (o1, o3, o4-mini, the gpt-5
family) reject `max_tokens` and any temperature but the default; many local servers reject
`json_schema`. Known names are sent the right parameters from the start; a server that names a
rejected parameter in its 400 (an Azure deployment of such a model under another name) is
answered by dropping it, once per review.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import httpx2
import openai
from openai.types.chat import ChatCompletion

from app.review.models import Usage

log = logging.getLogger(__name__)

# OpenAI's reasoning models (o1, o3-mini, o4-mini, gpt-5, gpt-5.1-mini ...), also behind a
# router's prefix ("openai/o3-mini"): `max_completion_tokens` bounds their answer and hidden
# reasoning, and they take only the default temperature.
_REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)*(?:o\d+|gpt-5)(?![a-z0-9])", re.IGNORECASE)
# What such a model answers to them: HTTP 400 with `param` naming the parameter and code
# "unsupported_parameter" (max_tokens) or "unsupported_value" (temperature 0).
_SAMPLING_PARAMS = frozenset({"max_tokens", "temperature"})


def is_reasoning_model(model: str) -> bool:
    return _REASONING_MODEL.match(model) is not None


@dataclass(frozen=True, slots=True)
class Sampling:
    """The answer's length limit and sampling parameters of one request."""

    max_tokens: int | openai.Omit
    max_completion_tokens: int | openai.Omit
    temperature: float | openai.Omit
    seed: int | openai.Omit


@dataclass(slots=True)
class RequestMode:
    """Shared by the requests of one review: once the server rejects something (json_schema,
    `max_tokens` or temperature, `seed`), stop sending it."""

    json_schema: bool = True
    reasoning: bool = False
    seed: bool = True

    @classmethod
    def for_model(cls, model: str) -> RequestMode:
        return cls(reasoning=is_reasoning_model(model))

    def sampling(self, max_answer: int, seed: int) -> Sampling:
        """Temperature 0 and the seed, for a reproducible grade, where the model takes them."""
        chosen_seed: int | openai.Omit = seed if self.seed else openai.omit
        if self.reasoning:
            return Sampling(openai.omit, max_answer, openai.omit, chosen_seed)
        return Sampling(max_answer, openai.omit, 0, chosen_seed)

    def drop_rejected(self, exc: openai.BadRequestError, sent: Sampling) -> bool:
        """True when the 400 names a parameter that `sent` carried and that can be left out; the
        requests from now on leave it out. Requests of one review run concurrently, so what the
        failed request carried decides, not the mode it started from."""
        if exc.param in _SAMPLING_PARAMS and not isinstance(sent.max_tokens, openai.Omit):
            self.reasoning = True
        elif exc.param == "seed" and not isinstance(sent.seed, openai.Omit):
            self.seed = False
        else:
            return False
        log.info("LLM server rejected parameter %r; retrying without it", exc.param)
        return True


def usage_from_body(model: str, response: httpx2.Response) -> Usage:
    try:
        body = response.json()
    except ValueError:
        return Usage(model)
    raw = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(raw, dict):
        return Usage(model)
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        model,
        int(raw.get("prompt_tokens") or 0),
        int(raw.get("completion_tokens") or 0),
        int(cached or 0),
    )


def usage_of(model: str, completion: ChatCompletion) -> Usage:
    """Tokens billed, with the prompt tokens the provider served from its cache (OpenAI reports
    them in `prompt_tokens_details.cached_tokens`; servers without a cache leave it out)."""
    usage = completion.usage
    if usage is None:
        return Usage(model)
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None else None
    return Usage(model, usage.prompt_tokens, usage.completion_tokens, cached or 0)


def api_failure(exc: openai.APIError) -> str:
    """One sentence for the check run; details (never prompt text) go to the log."""
    log.warning("LLM request failed: %s", type(exc).__name__)
    if isinstance(exc, openai.APIConnectionError):
        return "The LLM service could not be reached; the review can be re-run later."
    if isinstance(exc, openai.RateLimitError):
        return "The LLM service kept rate-limiting the review (HTTP 429); re-run it later."
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return "The LLM service rejected the API key; an operator must fix OPENAI_API_KEY."
    if isinstance(exc, openai.NotFoundError):
        return "The LLM service does not offer the configured model (HTTP 404)."
    if isinstance(exc, openai.APIStatusError):
        return f"The LLM service failed with HTTP {exc.status_code}; the review can be re-run."
    return "The LLM service sent a response the reviewer could not read."
