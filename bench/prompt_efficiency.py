"""3. Prompt efficiency: tokens sent to the LLM for changes of 50, 500 and 5,000 changed lines,
against the tokens of the changed code itself (hunks with their context).

The requests are the ones the service would send: the LLM reviewer's own plan (budget and cap
from the default settings, secrets masked as in production), each turned into messages by
`build_messages`; every message is counted with the estimator the planner budgets with.
"""

from __future__ import annotations

import openai

from app.github.change import build_change
from app.review.llm import LLMReviewer
from app.review.models import Criterion, Submission
from app.review.prompt import INSTRUCTIONS, build_messages, fixed_prompt_tokens
from app.review.prompt_plan import changed_code_tokens, estimate_tokens
from app.review.secrets import mask_secrets
from bench.common import Result, header, make_settings
from bench.synthetic import synthetic_change

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


def measure(changed: int) -> dict[str, float]:
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
    sent = 0
    system = 0
    for i, request in enumerate(plan.requests):
        for message in build_messages(BRIEF, RUBRIC, request, part=i + 1, parts=parts):
            tokens = estimate_tokens(str(message.get("content", "")))
            sent += tokens
            if message["role"] == "system":
                system += tokens
    code = changed_code_tokens(change.files)
    listed = {p for r in plan.requests for p in r.paths} | {s.path for s in plan.not_reviewed}
    unlisted = [f.path for f in change.files if f.path not in listed]
    return {
        "files": len(change.files),
        "added": sum(f.additions for f in change.files),
        "requests": parts,
        "sent": sent,
        "system": system,
        "code": code,
        "not_reviewed": len(plan.not_reviewed),
        "unlisted": len(unlisted),
    }


def run() -> Result:
    result = header("prompt", "tokens sent to the LLM / tokens of the changed code")
    fixed = fixed_prompt_tokens(BRIEF, RUBRIC)
    bare = estimate_tokens(INSTRUCTIONS)
    result.say(
        f"fixed prompt per request: {fixed} tokens with a {estimate_tokens(BRIEF)}-token brief "
        f"and {len(RUBRIC)} criteria ({bare} of them the instructions alone)"
    )
    result.say(
        f"{'lines':>6} {'files':>5} {'reqs':>4} {'code tok':>9} {'sent tok':>9} "
        f"{'ratio':>6} {'ratio w/o fixed':>15} {'not reviewed':>12} {'unlisted':>8}"
    )
    worst_total = 0.0
    worst_variable = 0.0
    unlisted = 0
    for size in SIZES:
        m = measure(size)
        ratio = m["sent"] / m["code"]
        variable = (m["sent"] - m["system"]) / m["code"]
        worst_total = max(worst_total, ratio)
        worst_variable = max(worst_variable, variable)
        unlisted += int(m["unlisted"])
        result.say(
            f"{int(m['added']):>6} {int(m['files']):>5} {int(m['requests']):>4} "
            f"{int(m['code']):>9} {int(m['sent']):>9} {ratio:>6.2f} {variable:>15.2f} "
            f"{int(m['not_reviewed']):>12} {int(m['unlisted']):>8}"
        )
        result.check(f"RATIO {size} lines: sent / code", f"{ratio:.2f}", "<= 1.3", ratio <= 1.3)
    result.say(
        f"ratio w/o fixed: the user messages alone (fenced code with line numbers and file "
        f"headers) / code; worst {worst_variable:.2f}"
    )
    result.check("fixed instructions", f"{fixed} tokens", "<= 1500", fixed <= 1500)
    result.check("files dropped without being listed", str(unlisted), "0", unlisted == 0)
    return result


if __name__ == "__main__":
    run()
