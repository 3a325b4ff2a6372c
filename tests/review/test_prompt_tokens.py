"""The compact line format: what it costs counted with the real tokenizer (o200k_base, offline;
skipped with the reason where the encoding files are absent), that the planner's estimate stays
calibrated against it, and that a model reading the format by its stated rule cites exactly the
lines the validator anchors to."""

from __future__ import annotations

import re

import pytest

from app.github.change import build_change
from app.review.llm_answer import FINDING_LINES, ReviewAnswer, validate_answer
from app.review.models import Criterion
from app.review.prompt import INSTRUCTIONS, build_messages
from app.review.prompt_hunks import file_hunks
from app.review.prompt_plan import estimate_tokens, plan_requests
from bench.synthetic import synthetic_change
from bench.tokenizer import Counter, missing_reason, o200k_counter

RUBRIC = (Criterion("correctness", "Does what the brief asks", 10),)

# Rule 3 of the instructions, as a reader applies it: number, space, kind, then the code.
_FILE = re.compile(r"^=== FILE (.+?) \([^)]*\) ===$")
_NUMBERED = re.compile(r"^(\d+) ([+ ])(?: |$)")


@pytest.fixture(scope="module")
def count() -> Counter:
    if reason := missing_reason():
        pytest.skip(reason)
    return o200k_counter()


def shown_lines(user: str) -> dict[str, dict[str, set[int]]]:
    files: dict[str, dict[str, set[int]]] = {}
    current: dict[str, set[int]] | None = None
    for line in user.split("\n"):
        if header := _FILE.match(line):
            current = files.setdefault(header[1], {"+": set(), " ": set()})
        elif current is not None and (numbered := _NUMBERED.match(line)):
            current[numbered[2]].add(int(numbered[1]))
    return files


def test_the_rule_the_model_reads_matches_the_format() -> None:
    assert 'line number in the new version of the file and a space, then "+"' in INSTRUCTIONS


def test_every_added_line_is_cited_as_shown_and_context_is_not_citable() -> None:
    change = build_change("a" * 40, "b" * 40, [f.github_entry() for f in synthetic_change(300)])
    plan = plan_requests(change.files)
    shown: dict[str, dict[str, set[int]]] = {}
    for request in plan.requests:
        _, user = build_messages("brief", RUBRIC, request)
        shown.update(shown_lines(str(user["content"])))
    for file in change.files:
        assert shown[file.path]["+"] == set(file.changed_lines), file.path
    path = next(p for p, kinds in shown.items() if kinds[" "])
    cited = [
        {"path": p, "start_line": n, "end_line": n, "severity": "notice", "title": "t",
         "message": "m", "suggestion": None}
        for p, kinds in shown.items()
        for n in sorted(kinds["+"])
    ]  # fmt: skip
    context = min(shown[path][" "])
    cited.append({**cited[0], "path": path, "start_line": context, "end_line": context})
    reply = ReviewAnswer.model_validate({"summary": "s", "criteria": [], "findings": cited})
    result = validate_answer(reply, RUBRIC, change)
    assert len(result.findings) == len(cited) - 1
    assert dict(result.dropped) == {FINDING_LINES: 1}


def test_the_line_prefix_costs_under_two_tokens_a_line(count: Counter) -> None:
    change = build_change("a" * 40, "b" * 40, [f.github_entry() for f in synthetic_change(500)])
    code = prompt = lines = 0
    for request in plan_requests(change.files).requests:
        _, user = build_messages("brief", RUBRIC, request)
        prompt += count(str(user["content"]))
    for file in change.files:
        for hunk in file_hunks(file) or ():
            code += count("\n".join(line.text for line in hunk.lines))
            lines += len(hunk.lines)
    assert (prompt - code) / lines < 2.0  # the padded "    1 + " prefix cost about 3.5
    assert prompt / code <= 1.2


def test_the_estimate_is_calibrated_against_the_real_count(count: Counter) -> None:
    """The planner budgets with chars/4: it may over-estimate (requests stay in budget) but by
    little (requests are not split needlessly), and never under-estimates a whole request."""
    for size, seed in ((50, 1), (500, 2), (2_000, 3)):
        change = build_change(
            "a" * 40, "b" * 40, [f.github_entry() for f in synthetic_change(size, seed)]
        )
        for request in plan_requests(change.files).requests:
            text = "\n\n".join(str(m["content"]) for m in build_messages("brief", RUBRIC, request))
            real = count(text)
            assert real <= estimate_tokens(text) <= real * 1.15, (size, real)
