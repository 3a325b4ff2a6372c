"""3. Prompt efficiency: tokens sent to the LLM for changes of 50, 500 and 5,000 changed lines,
against the tokens of the changed code itself (hunks with their context), both counted with the
real tokenizer (`tiktoken`'s o200k_base, offline from ../shared/tokenizers; skipped with the
reason where those files are absent).

The requests are the ones the service would send: the LLM reviewer's own plan (budget and cap
from the default settings, secrets masked as in production), each turned into messages by
`build_messages`. The planner budgets with a fast estimator; its error against the real count is
reported for the same messages.
"""

from __future__ import annotations

import openai

from app.github.change import build_change
from app.review.llm import LLMReviewer
from app.review.models import Criterion, Submission
from app.review.prompt import INSTRUCTIONS, build_messages, fixed_prompt_tokens, system_message
from app.review.prompt_hunks import file_hunks
from app.review.prompt_plan import estimate_tokens
from app.review.secrets import mask_secrets
from bench.common import Result, header, make_settings
from bench.synthetic import synthetic_change
from bench.tokenizer import ENCODING, Counter, missing_reason, o200k_counter

SIZES = (50, 500, 5_000)
BRIEF = (
    "Build a small inventory service in Python. It must expose functions to add, remove and "
    "list items with quantities, persist them in a JSON file, reject negative quantities and "
    "unknown items with clear errors, and come with unit tests that cover the error paths. "
    "Keep the code readable: small functions, type hints, no global state. Performance is not "
    "graded, but an obviously quadratic listing will be noted."
)
RUBRIC = (
    Criterion("correctness", "Adds, removes and lists items as the brief says.", 4),
    Criterion("errors", "Rejects negative quantities and unknown items clearly.", 2),
    Criterion("tests", "Unit tests cover the normal and the error paths.", 2),
    Criterion("readability", "Small functions, type hints, no global state.", 2),
)


def _mask(text: str) -> str:
    return mask_secrets(text)[0]


def measure(changed: int, count: Counter) -> dict[str, float]:
    files = synthetic_change(changed)
    change = build_change("a" * 40, "b" * 40, [f.github_entry() for f in files])
    settings = make_settings("sqlite+aiosqlite:///:memory:")
    client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    reviewer = LLMReviewer(
        client,
        settings.openai_model,
        RUBRIC,
        BRIEF,
        budget_tokens=settings.llm_budget_tokens,
        max_total_tokens=settings.llm_max_review_tokens,
        mask=_mask,
    )
    plan = reviewer.plan(Submission(repo="acme/task", change=change))
    parts = len(plan.requests)
    sent = system = estimated = 0
    worst_message = 0.0
    for i, request in enumerate(plan.requests):
        for message in build_messages(BRIEF, RUBRIC, request, part=i + 1, parts=parts):
            text = str(message.get("content", ""))
            tokens = count(text)
            guess = estimate_tokens(text)
            sent += tokens
            estimated += guess
            worst_message = max(worst_message, abs(guess - tokens) / tokens)
            if message["role"] == "system":
                system += tokens
    code = sum(
        count("\n".join(line.text for line in hunk.lines))
        for file in change.files
        for hunk in file_hunks(file) or ()
    )
    listed = {p for r in plan.requests for p in r.paths} | {s.path for s in plan.not_reviewed}
    unlisted = [f.path for f in change.files if f.path not in listed]
    return {
        "files": len(change.files),
        "added": sum(f.additions for f in change.files),
        "requests": parts,
        "sent": sent,
        "system": system,
        "code": code,
        "estimated": estimated,
        "worst_message": worst_message,
        "not_reviewed": len(plan.not_reviewed),
        "unlisted": len(unlisted),
    }


def run() -> Result:
    result = header("prompt", f"tokens sent to the LLM / tokens of the changed code ({ENCODING})")
    if reason := missing_reason():
        result.say(f"SKIPPED: {reason}")
        return result
    count = o200k_counter()
    fixed = count(fixed_prompt_text())
    result.say(
        f"fixed prompt per request: {fixed} tokens with a {count(BRIEF)}-token brief "
        f"and {len(RUBRIC)} criteria ({count(INSTRUCTIONS)} of them the instructions alone); "
        f"the planner's estimate: {fixed_prompt_tokens(BRIEF, RUBRIC)}"
    )
    result.say(
        f"{'lines':>6} {'files':>5} {'reqs':>4} {'code tok':>9} {'sent tok':>9} "
        f"{'ratio':>6} {'ratio w/o fixed':>15} {'estimate':>9} {'not reviewed':>12} "
        f"{'unlisted':>8}"
    )
    unlisted = 0
    worst_variable = worst_total_error = worst_message = 0.0
    for size in SIZES:
        m = measure(size, count)
        ratio = m["sent"] / m["code"]
        variable = (m["sent"] - m["system"]) / m["code"]
        error = m["estimated"] / m["sent"] - 1
        worst_variable = max(worst_variable, variable)
        worst_total_error = max(worst_total_error, abs(error))
        worst_message = max(worst_message, m["worst_message"])
        unlisted += int(m["unlisted"])
        result.say(
            f"{int(m['added']):>6} {int(m['files']):>5} {int(m['requests']):>4} "
            f"{int(m['code']):>9} {int(m['sent']):>9} {ratio:>6.2f} {variable:>15.2f} "
            f"{error:>+9.1%} {int(m['not_reviewed']):>12} {int(m['unlisted']):>8}"
        )
        if size >= 500:
            result.check(f"RATIO {size} lines: sent / code", f"{ratio:.2f}", "<= 1.3", ratio <= 1.3)
    result.say(
        f"ratio w/o fixed: the user messages alone (fenced code with line numbers and file "
        f"headers) / code; worst {worst_variable:.2f}"
    )
    result.say(
        "estimate: the planner's estimated tokens for the same messages against the real count "
        f"(positive: it over-estimates, so requests stay within the budget); worst single "
        f"message off by {worst_message:.1%}"
    )
    result.check(
        "estimator error on whole reviews", f"{worst_total_error:.1%}", "<= 15%",
        worst_total_error <= 0.15,
    )  # fmt: skip
    result.check("fixed instructions", f"{fixed} tokens", "<= 1500", fixed <= 1500)
    result.check("files dropped without being listed", str(unlisted), "0", unlisted == 0)
    return result


def fixed_prompt_text() -> str:
    """The system message of a request of a review in two parts, as `fixed_prompt_tokens`."""
    return system_message(BRIEF, RUBRIC, nonce="0" * 32, part=2, parts=2)


if __name__ == "__main__":
    run()
