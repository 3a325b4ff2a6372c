"""A review with hidden tests: the tests decide their criterion after the model has spoken, the
model reads their results, failures pointing at changed lines become annotations, and a missing
report is never a failing grade."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from app.review.assignment import Assignment, parse_config
from app.review.engine import ReviewPlan, cache_key, review_submission
from app.review.hidden_tests import CaseResult, NoReport, Outcome, TestOutcome, TestReport
from app.review.llm import LLMAssessment, LLMReviewer
from app.review.models import Change, ChangedFile, Review, Submission
from app.review.prompt_tests import hidden_test_evidence
from tests.fakes.llm import FakeLLM, good, message_text

CONFIG = """\
assignments:
  - id: calc
    repos: ["calc-*"]
    rubric:
      - {{id: correctness, description: "Works", points: 40}}
      - {{id: design, description: "Clear", points: 10}}
    tests:
      workflow: {{repo: acme/graders, file: grade.yml}}
      criterion: correctness
      mode: {mode}
      candidate_sees: {sees}
"""
PATCH = "@@ -1,2 +1,4 @@\n def div(a, b):\n+    if b == 0:\n+        return 0\n     return a / b"
CHANGE = Change(
    "base", "head", (ChangedFile("src/calc.py", "modified", frozenset({2, 3}), PATCH, 2),)
)
SUBMISSION = Submission("acme/calc-ada", CHANGE)


def assignment(mode: str = "replace", sees: str = "failing_names") -> Assignment:
    (parsed,) = parse_config(CONFIG.format(mode=mode, sees=sees)).assignments
    return parsed


def report(*extra: CaseResult, passed: int = 7, failed: int = 3) -> TestOutcome:
    cases = [CaseResult(f"test_ok_{i}", Outcome.PASSED, "tests") for i in range(passed)]
    cases += [
        CaseResult(f"test_bad_{i}", Outcome.FAILED, "tests", message="assert 1 == 0")
        for i in range(failed)
    ]
    return TestOutcome.of(TestReport((*cases, *extra)))


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
async def client(fake: FakeLLM) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = fake.client()
    yield sdk
    await sdk.close()


async def review(
    plan_assignment: Assignment,
    outcome: TestOutcome | None,
    client: openai.AsyncOpenAI | None = None,
    **plan: Any,
) -> Review:
    llm = None
    if client is not None:
        a = plan_assignment
        llm = LLMReviewer(client, "gpt-4o-mini", a.rubric, a.brief or "")
    return await review_submission(
        SUBMISSION, ReviewPlan(plan_assignment, (), llm, "gpt-4o-mini", tests=outcome, **plan)
    )


def score(result: Review, criterion: str) -> tuple[float | None, str]:
    found = next(s for s in result.scores if s.criterion_id == criterion)
    return found.score, found.rationale


async def test_tests_replace_the_models_score_which_saw_them(
    fake: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    fake.script(good(fraction=0.9))
    result = await review(assignment(), report(), client)
    value, rationale = score(result, "correctness")
    assert value == 28
    assert rationale.startswith("Hidden tests: 7 of 10 passed → 28/40; replaces the model's 36.")
    assert score(result, "design")[0] == 9  # the model's, untouched
    assert result.total == (37, 50)
    assert result.tests == report()
    (request,) = fake.requests
    system = message_text(request, "system")
    assert "Result: 7 passed, 3 failed, 0 errored, 0 skipped, of 10" in system
    assert "- tests.test_bad_0 (failed): assert 1 == 0" in system
    assert not any("Hidden tests" in n for n in result.notes)


async def test_cap_keeps_a_lower_model_score(fake: FakeLLM, client: openai.AsyncOpenAI) -> None:
    fake.script(good(fraction=0.5))
    result = await review(assignment(mode="cap"), report(), client)
    value, rationale = score(result, "correctness")
    assert value == 20
    assert "the model's 20 is within this cap" in rationale


@pytest.mark.parametrize("reason", [NoReport.TIMED_OUT, NoReport.NO_ARTIFACT, NoReport.CANCELLED])
async def test_no_report_leaves_the_models_score_and_says_so(
    fake: FakeLLM, client: openai.AsyncOpenAI, reason: NoReport
) -> None:
    fake.script(good(fraction=0.9))
    outcome = TestOutcome.none(reason)
    result = await review(assignment(), outcome, client)
    assert score(result, "correctness") == (36, "correctness is mostly met.")
    assert result.tests == outcome
    assert any(
        n.startswith("Hidden tests gave no results")
        and n.endswith("the correctness score is the model's alone.")
        for n in result.notes
    )
    assert "gave no results" in message_text(fake.requests[0], "system")


async def test_without_the_llm_the_tests_still_decide_and_nothing_is_invented() -> None:
    result = await review(assignment(), report(passed=1, failed=1))
    assert score(result, "correctness")[0] == 20
    assert score(result, "design")[0] is None
    assert result.total == (20, 40)
    timed_out = await review(assignment(), TestOutcome.none(NoReport.TIMED_OUT))
    assert score(timed_out, "correctness")[0] is None  # not assessed, never 0
    assert timed_out.total is None
    assert any(n.endswith("correctness is not assessed.") for n in timed_out.notes)


async def test_an_assignment_with_tests_that_nobody_ran_says_so() -> None:
    result = await review(assignment(), None)
    assert result.tests is None
    assert "Hidden tests were not run for this review: correctness is not assessed." in (
        result.notes
    )


async def test_failures_on_changed_lines_are_annotated_within_what_the_candidate_sees() -> None:
    on_change = CaseResult(
        "test_div_zero",
        Outcome.FAILED,
        "tests",
        file="/home/runner/work/g/submission/src/calc.py",
        line=3,
        message="secret expectation",
    )
    elsewhere = CaseResult("test_other", Outcome.ERRORED, file="src/calc.py", line=4)
    not_in_change = CaseResult("test_x", Outcome.FAILED, file="tests/test_calc.py", line=3)
    outcome = report(on_change, elsewhere, not_in_change, failed=0)

    named = await review(assignment(sees="failing_names"), outcome)
    (finding,) = [f for f in named.findings if f.source == "tests"]
    assert (finding.path, finding.start_line, finding.end_line) == ("src/calc.py", 3, 3)
    assert finding.title == "Hidden test failed: tests.test_div_zero"
    assert "secret expectation" not in finding.message
    (outside,) = [f for f in named.outside_diff if f.source == "tests"]
    assert (outside.path, outside.start_line) == ("src/calc.py", 4)

    counted = await review(assignment(sees="counts"), outcome)
    (anonymous,) = [f for f in counted.findings if f.source == "tests"]
    assert anonymous.title == "A hidden test failed here"
    assert "test_div_zero" not in anonymous.message

    hidden = await review(assignment(sees="nothing"), outcome)
    assert not [f for f in hidden.findings + hidden.outside_diff if f.source == "tests"]


async def test_a_stored_assessment_is_reused_only_for_the_same_test_evidence(
    fake: FakeLLM, client: openai.AsyncOpenAI
) -> None:
    a = assignment()
    first, second = report(), report(passed=10, failed=0)
    key_first = cache_key(SUBMISSION, a, "gpt-4o-mini", hidden_test_evidence(first, a.tests))
    key_second = cache_key(SUBMISSION, a, "gpt-4o-mini", hidden_test_evidence(second, a.tests))
    assert key_first != key_second
    assert cache_key(SUBMISSION, a, "gpt-4o-mini") == cache_key(
        SUBMISSION, a, "gpt-4o-mini", hidden_test_evidence(None, a.tests)
    )

    stored: dict[str, LLMAssessment] = {}

    async def load(key: str) -> LLMAssessment | None:
        return stored.get(key)

    async def save(key: str, assessment: LLMAssessment) -> None:
        stored[key] = assessment

    fake.script(good(fraction=0.9))
    llm = LLMReviewer(client, "gpt-4o-mini", a.rubric, "")
    plan = ReviewPlan(a, (), llm, "gpt-4o-mini", tests=first)
    await review_submission(SUBMISSION, plan, (load, save))
    assert list(stored) == [key_first]
    again = await review_submission(SUBMISSION, plan, (load, save))
    assert len(fake.requests) == 1  # reused, and the tests still scored in code
    assert score(again, "correctness")[0] == 28
