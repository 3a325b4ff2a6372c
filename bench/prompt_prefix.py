"""Prompt caching: the share of each request's prompt that is an identical prefix across the
requests of one assignment, counted with o200k_base (skipped with the reason where the encoding
files are absent).

Providers serve a prompt's leading tokens from a cache when an earlier request began with the
same ones (OpenAI from 1,024 tokens, in steps of 128, at a lower price). The assignment here has
a brief and rubric of more than 1,024 tokens; its requests are those of several candidates'
submissions of different sizes (the large ones in several parts), each with its own nonce. The
baseline, measured in the same run, is the former layout: the nonce named in the first rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.github.change import build_change
from app.review.models import Criterion
from app.review.prompt import INSTRUCTIONS, build_messages
from app.review.prompt_plan import plan_requests
from bench.common import Result, header
from bench.synthetic import synthetic_change
from bench.tokenizer import ENCODING, missing_reason, o200k_counter, o200k_encode

SUBMISSIONS = ((40, 1), (120, 2), (300, 3), (900, 4), (2_500, 5))
BUDGET_TOKENS = 24_000
OPENAI_MIN_PREFIX = 1_024
OPENAI_STEP = 128

_SECTION = (
    "Section {n}. The service keeps an inventory of items with quantities in a JSON file. "
    "Adding an item that exists increases its quantity; removing more than is held is an error "
    "that names the item and both quantities; listing returns the items sorted by name, with "
    "their quantities, in time linear in their number. Every public function has type hints and "
    "a docstring that says why it exists. Errors are raised as the module's own exception "
    "types, never as bare exceptions, and the JSON file is written atomically so that a crash "
    "cannot leave it half written. Tests cover each rule of this section, including the error "
    "paths, and run without network access."
)
BRIEF = "\n\n".join(_SECTION.format(n=n) for n in range(1, 9))
RUBRIC = tuple(
    Criterion(f"rule-{n}", f"Section {n} of the brief is met, with tests of its error paths.", 5)
    for n in range(1, 9)
)


def _common_prefix(sequences: Sequence[Sequence[int]]) -> int:
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for i in range(length):
        if any(s[i] != first[i] for s in sequences):
            return i
    return length


def _requests(old_layout: bool) -> list[tuple[str, str]]:
    """(system, user) of every request of the assignment."""
    out: list[tuple[str, str]] = []
    for lines, seed in SUBMISSIONS:
        files = synthetic_change(lines, seed)
        change = build_change("a" * 40, "b" * 40, [f.github_entry() for f in files])
        plan = plan_requests(change.files, BUDGET_TOKENS, overhead_tokens=2_000)
        parts = len(plan.requests)
        for i, request in enumerate(plan.requests):
            system, user = (
                str(m.get("content", ""))
                for m in build_messages(BRIEF, RUBRIC, request, part=i + 1, parts=parts)
            )
            if old_layout:  # the markers named in rule 1, before anything else that varies
                head, _, markers = system.rpartition("\n\n")
                system = head.replace(
                    INSTRUCTIONS, f"{INSTRUCTIONS[:180]}{markers}{INSTRUCTIONS[180:]}"
                )
            out.append((system, user))
    return out


def measure(old_layout: bool) -> dict[str, float]:
    encode = o200k_encode()
    requests = _requests(old_layout)
    tokens = [encode(s + u) for s, u in requests]
    system = [len(encode(s)) for s, _ in requests]
    prefix = _common_prefix(tokens)
    cacheable = (
        prefix - (prefix - OPENAI_MIN_PREFIX) % OPENAI_STEP if prefix >= OPENAI_MIN_PREFIX else 0
    )
    total = sum(len(t) for t in tokens)
    return {
        "requests": len(requests),
        "prefix": prefix,
        "cacheable": cacheable,
        "system_mean": sum(system) / len(system),
        "share_fixed": prefix / min(system),
        "share_total": prefix * len(requests) / total,
        "cached_total": cacheable * (len(requests) - 1) / total,
    }


def run() -> Result:
    result = header("prefix", f"identical leading prompt tokens across one assignment ({ENCODING})")
    if reason := missing_reason():
        result.say(f"SKIPPED: {reason}")
        return result
    count = o200k_counter()
    result.say(
        f"brief {count(BRIEF)} tokens, rubric of {len(RUBRIC)} criteria; "
        f"{len(SUBMISSIONS)} submissions of {', '.join(str(n) for n, _ in SUBMISSIONS)} lines"
    )
    result.say(
        f"{'layout':>8} {'reqs':>4} {'prefix':>6} {'cacheable':>9} {'system':>7} "
        f"{'of system':>9} {'of prompt':>9} {'cached after 1st':>16}"
    )
    rows: dict[str, dict[str, float]] = {}
    for name, old in (("before", True), ("now", False)):
        m = measure(old)
        rows[name] = m
        result.say(
            f"{name:>8} {int(m['requests']):>4} {int(m['prefix']):>6} {int(m['cacheable']):>9} "
            f"{m['system_mean']:>7.0f} {m['share_fixed']:>9.1%} {m['share_total']:>9.1%} "
            f"{m['cached_total']:>16.1%}"
        )
    result.say(
        "prefix: tokens every request starts with; cacheable: that, in OpenAI's steps (>= 1,024, "
        "then 128 at a time); of system: prefix / the shortest system message (all a request "
        "carries besides the submission); of prompt: prefix / the whole prompt, submissions "
        "included; cached after 1st: the prompt tokens a provider could serve from its cache "
        "once the first request has been seen"
    )
    now, before = rows["now"], rows["before"]
    result.check(
        "RATIO identical prefix / system message",
        f"{now['share_fixed']:.1%} (before {before['share_fixed']:.1%})",
        ">= 80%",
        now["share_fixed"] >= 0.8,
    )
    result.check(
        "prefix long enough for OpenAI's cache",
        f"{int(now['prefix'])} tokens",
        f">= {OPENAI_MIN_PREFIX}",
        now["prefix"] >= OPENAI_MIN_PREFIX,
    )
    return result


if __name__ == "__main__":
    run()
