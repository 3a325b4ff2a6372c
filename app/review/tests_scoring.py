"""Points from hidden tests, computed in code: the model never scores what the tests decide.

`pass_rate`: points x passed / (total - skipped). `weights`: each test takes the weight of the
first glob (in config order) matching its name or its `classname.name`; a test no glob matches
weighs nothing; points x passed weight / counted weight. Errors count as not passed; skipped
tests count in neither number.

Then `replace` puts the tests' score in place of the model's, `cap` keeps the lower of the two.
Without a report (the run did not start, timed out, no artifact, ...) or without a single counted
test, nothing is computed: the criterion stays with the model (or "not assessed") and a note says
which. A missing report is never scored as failing tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from app.review.models import CriterionScore
from app.review.tests_config import HiddenTests
from app.review.tests_outcome import CaseResult, Outcome, TestOutcome, TestReport


@dataclass(frozen=True, slots=True)
class TestsScore:
    """What the tests award one criterion, and the sentence that explains it."""

    __test__ = False

    score: float
    points: int
    explained: str  # "7 of 10 passed → 28/40"


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def weight_of(case: CaseResult, weights: dict[str, float]) -> float:
    for pattern, weight in weights.items():
        if fnmatchcase(case.name, pattern) or fnmatchcase(case.full_name, pattern):
            return weight
    return 0.0


def _why_nothing_counted(report: TestReport) -> str:
    if not report.total:
        return "the report holds no test case"
    return f"all {report.total} test(s) were skipped"


def score_report(report: TestReport, config: HiddenTests, points: int) -> TestsScore | str:
    """The tests' score for the criterion, or why none can be computed (a clause)."""
    counted = [c for c in report.cases if c.outcome is not Outcome.SKIPPED]
    passed = [c for c in counted if c.outcome is Outcome.PASSED]
    counts = f"{len(passed)} of {len(counted)} passed"
    if report.skipped:
        counts += f" ({report.skipped} skipped, not counted)"
    if not counted:
        return _why_nothing_counted(report)
    if config.scoring == "pass_rate":
        score = points * len(passed) / len(counted)
        return TestsScore(score, points, f"{counts} → {_num(score)}/{points}")
    total_weight = sum(weight_of(c, config.weights) for c in counted)
    if total_weight <= 0:
        return f"no counted test matches a weight ({len(counted)} test(s) ran)"
    passed_weight = sum(weight_of(c, config.weights) for c in passed)
    score = points * passed_weight / total_weight
    unweighted = sum(1 for c in counted if weight_of(c, config.weights) == 0)
    extra = f"; {unweighted} test(s) match no weight and do not count" if unweighted else ""
    return TestsScore(
        score,
        points,
        f"{counts}, weight {_num(passed_weight)} of {_num(total_weight)}{extra} "
        f"→ {_num(score)}/{points}",
    )


def combine(model: CriterionScore, tests: TestsScore, mode: str) -> CriterionScore:
    """The criterion's final score and a rationale that says where it came from."""
    given = model.score
    if given is None:
        score, clause = tests.score, "the model did not assess it"
    elif mode == "replace":
        score, clause = tests.score, f"replaces the model's {_num(given)}"
    elif given > tests.score:
        score, clause = tests.score, f"caps the model's {_num(given)}"
    else:
        score, clause = given, f"the model's {_num(given)} is within this cap"
    rationale = f"Hidden tests: {tests.explained}; {clause}."
    if model.rationale.strip():
        rationale += f" Model: {model.rationale.strip()}"
    return replace(model, score=round(score, 2), rationale=rationale)


def _stays(model: CriterionScore | None, criterion: str) -> str:
    if model is not None and model.score is not None:
        return f"the {criterion} score is the model's alone"
    return f"{criterion} is not assessed"


def apply_tests(
    scores: Sequence[CriterionScore],
    outcome: TestOutcome | None,
    config: HiddenTests,
    points: int,
) -> tuple[tuple[CriterionScore, ...], str | None]:
    """Scores with the tests' criterion decided (or capped) by the report, and a note for the
    review when the tests decided nothing (None when they did: the rationale says it all)."""
    criterion = config.criterion
    model = next((s for s in scores if s.criterion_id == criterion), None)
    if outcome is None:
        return tuple(scores), (
            f"Hidden tests were not run for this review: {_stays(model, criterion)}."
        )
    if outcome.report is None:
        return tuple(scores), (
            f"Hidden tests gave no results ({outcome.why_none}): {_stays(model, criterion)}."
        )
    result = score_report(outcome.report, config, points)
    if isinstance(result, str):
        return tuple(scores), (
            f"Hidden tests decided nothing ({result}): {_stays(model, criterion)}."
        )
    if model is None:
        return (
            *scores,
            combine(CriterionScore(criterion, points, None), result, config.mode),
        ), None
    return tuple(
        combine(s, result, config.mode) if s.criterion_id == criterion else s for s in scores
    ), None
