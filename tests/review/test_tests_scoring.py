"""Test-derived points are computed in code; a missing report never scores as failed tests."""

from __future__ import annotations

from typing import Any

import pytest

from app.review.hidden_tests import CaseResult, NoReport, Outcome, TestOutcome, TestReport
from app.review.models import CriterionScore
from app.review.tests_config import HiddenTests
from app.review.tests_scoring import apply_tests, score_report

WORKFLOW = {"repo": "acme/graders", "file": "grade.yml"}


def config(**overrides: Any) -> HiddenTests:
    return HiddenTests.model_validate(
        {"workflow": WORKFLOW, "criterion": "correctness", **overrides}
    )


def report(passed: int, failed: int = 0, errored: int = 0, skipped: int = 0) -> TestReport:
    cases = (
        [CaseResult(f"test_ok_{i}", Outcome.PASSED) for i in range(passed)]
        + [CaseResult(f"test_bad_{i}", Outcome.FAILED) for i in range(failed)]
        + [CaseResult(f"test_err_{i}", Outcome.ERRORED) for i in range(errored)]
        + [CaseResult(f"test_skip_{i}", Outcome.SKIPPED) for i in range(skipped)]
    )
    return TestReport(tuple(cases))


def model_scores(
    score: float | None, rationale: str = "Looks right."
) -> tuple[CriterionScore, ...]:
    return (
        CriterionScore("design", 10, 8, "Clear."),
        CriterionScore("correctness", 40, score, rationale),
    )


def decided(
    outcome: TestOutcome | None, cfg: HiddenTests, score: float | None = 36
) -> tuple[CriterionScore, str | None]:
    scores, note = apply_tests(model_scores(score), outcome, cfg, 40)
    assert scores[0] == CriterionScore("design", 10, 8, "Clear.")  # other criteria untouched
    return scores[1], note


def test_pass_rate_replaces_the_models_score_and_says_so() -> None:
    result, note = decided(TestOutcome.of(report(7, 2, 1)), config())
    assert result.score == 28
    assert result.rationale == (
        "Hidden tests: 7 of 10 passed → 28/40; replaces the model's 36. Model: Looks right."
    )
    assert note is None


def test_skipped_tests_count_in_neither_number() -> None:
    result, _ = decided(TestOutcome.of(report(3, 1, skipped=4)), config())
    assert result.score == 30
    assert result.rationale.startswith(
        "Hidden tests: 3 of 4 passed (4 skipped, not counted) → 30/40"
    )


def test_cap_keeps_the_lower_score() -> None:
    capped, _ = decided(TestOutcome.of(report(7, 3)), config(mode="cap"), score=36)
    assert capped.score == 28
    assert "caps the model's 36" in capped.rationale
    within, _ = decided(TestOutcome.of(report(7, 3)), config(mode="cap"), score=20)
    assert within.score == 20
    assert "the model's 20 is within this cap" in within.rationale


def test_a_criterion_the_model_did_not_assess_takes_the_tests_score() -> None:
    for mode in ("replace", "cap"):
        result, _ = decided(TestOutcome.of(report(1, 2)), config(mode=mode), score=None)
        assert result.score == pytest.approx(13.33)
        assert "the model did not assess it" in result.rationale


def test_weights_first_matching_glob_wins() -> None:
    cases = (
        CaseResult("test_api_create", Outcome.PASSED),  # 3 (first glob wins over test_api_*)
        CaseResult("test_api_list", Outcome.FAILED),  # 2
        CaseResult("test_misc", Outcome.PASSED, classname="tests.unit"),  # 1 via "tests.unit.*"
        CaseResult("test_extra", Outcome.PASSED),  # no glob: weighs nothing
        CaseResult("test_api_skip", Outcome.SKIPPED),  # skipped: not counted
    )
    cfg = config(
        scoring="weights", weights={"test_api_create": 3, "test_api_*": 2, "tests.unit.*": 1}
    )
    result, _ = decided(TestOutcome.of(TestReport(cases)), cfg)
    assert result.score == pytest.approx(40 * 4 / 6, abs=0.01)
    assert result.rationale.startswith(
        "Hidden tests: 3 of 4 passed (1 skipped, not counted), weight 4 of 6; 1 test(s) match no "
        "weight and do not count → 26.67/40; replaces the model's 36."
    )


@pytest.mark.parametrize("reason", list(NoReport))
def test_no_report_leaves_the_criterion_with_the_model_and_says_so(reason: NoReport) -> None:
    outcome = TestOutcome.none(reason, "after 20 minutes")
    result, note = decided(outcome, config())
    assert (result.score, result.rationale) == (36, "Looks right.")
    assert note is not None
    assert note.startswith("Hidden tests gave no results (the ")
    assert note.endswith("(after 20 minutes)): the correctness score is the model's alone.")
    unassessed, note = decided(outcome, config(), score=None)
    assert unassessed.score is None
    assert note is not None and note.endswith(": correctness is not assessed.")


def test_no_outcome_at_all_is_said_too() -> None:
    result, note = decided(None, config())
    assert result.score == 36
    assert note == (
        "Hidden tests were not run for this review: the correctness score is the model's alone."
    )


def test_a_report_with_nothing_counted_decides_nothing() -> None:
    for rep, why in ((report(0, skipped=3), "all 3 test(s) were skipped"), (report(0), "no test")):
        result, note = decided(TestOutcome.of(rep), config(), score=None)
        assert result.score is None
        assert note is not None and why in note
    weighted = config(scoring="weights", weights={"nothing_*": 1})
    result, note = decided(TestOutcome.of(report(2)), weighted)
    assert result.score == 36
    assert note is not None and "no counted test matches a weight" in note


def test_all_failing_scores_zero_and_all_passing_full() -> None:
    assert decided(TestOutcome.of(report(0, 5)), config())[0].score == 0
    assert decided(TestOutcome.of(report(5)), config())[0].score == 40


def test_a_criterion_missing_from_the_models_answer_is_added() -> None:
    scores, _ = apply_tests((), TestOutcome.of(report(1, 1)), config(), 40)
    assert [(s.criterion_id, s.points, s.score) for s in scores] == [("correctness", 40, 20)]


def test_score_report_explains_without_applying() -> None:
    result = score_report(report(7, 3), config(), 40)
    assert not isinstance(result, str)
    assert (result.score, result.explained) == (28, "7 of 10 passed → 28/40")
