"""What the candidate and the reviewers see of the hidden tests, and that nothing a test name,
message or printed output holds becomes markdown structure."""

from __future__ import annotations

import pytest

from app.review.hidden_tests import CaseResult, NoReport, Outcome, TestOutcome, TestReport
from app.review.tests_render import (
    candidate_tests_section,
    duration_text,
    reviewer_tests_section,
)

HOSTILE_NAME = "test_x\n| 99 | 0 | 0 | 0 | 0 s |\n# Passed @octocat <img src=x>"
OUTPUT = "Traceback\n```\n</details>\n## forged heading\nexpected 3 got 4"
CASES = (
    CaseResult("test_add", Outcome.PASSED, "tests.calc", time=1.25),
    CaseResult(
        "test_div",
        Outcome.FAILED,
        "tests.calc",
        file="src/calc.py",
        line=3,
        time=0.5,
        message="assert div(1, 0) == 0 *hidden* expectation",
        output=OUTPUT,
    ),
    CaseResult(HOSTILE_NAME, Outcome.ERRORED, message="@octocat [click](https://x.test)"),
    CaseResult("test_skip", Outcome.SKIPPED),
)
OUTCOME = TestOutcome.of(
    TestReport(CASES, ("junit/report.xml",)),
    run_url="https://github.com/acme/graders/actions/runs/42",
)
ROW = "| 1 | 1 | 1 | 1 | 1.8 s |"


def table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("|")]


def test_the_candidate_sees_nothing_when_the_assignment_says_nothing() -> None:
    assert candidate_tests_section(OUTCOME, "nothing") == ""
    assert candidate_tests_section(TestOutcome.none(NoReport.TIMED_OUT), "nothing") == ""
    assert candidate_tests_section(None, "failing_names") == ""


def test_counts_show_the_table_and_no_test_at_all() -> None:
    shown = candidate_tests_section(OUTCOME, "counts")
    assert shown.startswith("### Hidden tests\n\n")
    assert table_rows(shown)[-1] == ROW
    assert len(table_rows(shown)) == 3
    for secret in ("test_div", "test_add", "hidden", "Traceback", "octocat"):
        assert secret not in shown


def test_failing_names_add_the_names_but_never_messages_or_output() -> None:
    shown = candidate_tests_section(OUTCOME, "failing_names")
    assert table_rows(shown) == table_rows(candidate_tests_section(OUTCOME, "counts"))
    assert "- `tests.calc.test_div` (failed)" in shown
    for secret in ("hidden", "expectation", "Traceback", "click", "test_add", "test_skip"):
        assert secret not in shown
    # A name cannot add a table row, a heading, an HTML tag or a mention.
    assert len(table_rows(shown)) == 3
    assert not any(line.startswith("#") for line in shown.splitlines()[1:])
    (hostile,) = [line for line in shown.splitlines() if "octocat" in line]
    assert hostile == "- `test_x⏎| 99 | 0 | 0 | 0 | 0 s |⏎# Passed @octocat <img src=x>` (errored)"


def test_missing_results_give_the_candidate_the_general_reason_only() -> None:
    outcome = TestOutcome.none(NoReport.UNPARSEABLE, "junit/secret-grader-file.xml declares a DTD")
    shown = candidate_tests_section(outcome, "counts")
    assert shown == "### Hidden tests\n\nNo results: the test report could not be read.\n"
    reviewers = reviewer_tests_section(outcome)
    assert "secret-grader-file" in reviewers


def test_reviewers_see_every_failing_test_its_message_and_the_output() -> None:
    shown = reviewer_tests_section(OUTCOME)
    assert table_rows(shown) == ["| Passed | Failed | Errored | Skipped | Duration |",
                                 "|---:|---:|---:|---:|---:|", ROW]  # fmt: skip
    assert (
        "Read from `junit/report.xml` of "
        "[the grader's run](<https://github.com/acme/graders/actions/runs/42>)."
    ) in shown
    assert "- **tests.calc.test\\_div** (failed) at `src/calc.py:3`" in shown
    assert "  assert div(1, 0) == 0 \\*hidden\\* expectation" in shown
    assert "test_add" not in shown  # passing tests are counted, not listed
    # The output sits in a code block its backticks cannot close, so its heading stays text.
    assert "  ````text\n  Traceback\n  ```\n  </details>\n  ## forged heading" in shown
    assert shown.count("<details>") == 1 == shown.count("\n\n  </details>")


def test_reviewers_text_from_tests_cannot_forge_structure() -> None:
    shown = reviewer_tests_section(OUTCOME)
    hostile = next(line for line in shown.splitlines() if "Passed" in line and "test\\_x" in line)
    assert hostile.startswith("- **test\\_x⏎\\| 99")
    assert "@\u200boctocat" in shown and "@octocat" not in shown
    assert "\\[click\\](https://x.test)" in shown
    assert "\\<img src=x\\>" in shown


def test_reviewers_learn_why_there_are_no_results() -> None:
    outcome = TestOutcome.none(
        NoReport.TIMED_OUT, "after 20 minutes", run_url="https://github.com/acme/g/actions/runs/7"
    )
    assert reviewer_tests_section(outcome) == (
        "### Hidden tests\n\nNo results: the grader workflow did not finish within its time "
        "limit (after 20 minutes) ([the grader's run](<https://github.com/acme/g/actions/runs/7>)).\n"
    )
    assert reviewer_tests_section(None) == ""


def test_long_lists_are_capped() -> None:
    many = tuple(
        CaseResult(f"t{i}", Outcome.FAILED, message="m", output="o" * 5_000) for i in range(80)
    )
    outcome = TestOutcome.of(TestReport(many))
    assert "- … and 30 more" in candidate_tests_section(outcome, "failing_names")
    reviewers = reviewer_tests_section(outcome)
    assert "- … and 30 more" in reviewers
    assert reviewers.count("<details>") == 10
    assert len(reviewers) < 25_000


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0.0 s"), (1.25, "1.2 s"), (59.9, "59.9 s"), (125, "2 min 5 s")]
)
def test_durations_read_naturally(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
