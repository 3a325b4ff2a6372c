"""What each audience sees of the hidden tests. Pure.

The candidate sees what the assignment's `candidate_sees` allows: nothing; counts (passed,
failed, errored, skipped, duration); or counts and the failing tests' names. Never a failure
message or printed output: those describe the hidden tests' inputs and expectations. Annotations
on the candidate's lines follow the same rule. Reviewers see everything: each failing test, its
message and (folded) what the code printed.

Names and messages come from the organisation's tests, output from the candidate's code, and
either can quote values the candidate's code produced: all of it enters markdown through
`app.render_text` (one line, escaped; code blocks no text can close).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from app.render_text import code, fenced, md
from app.review.models import Change, Finding, Severity
from app.review.tests_outcome import (
    CaseResult,
    TestOutcome,
    TestReport,
)

CANDIDATE_FAILING_LISTED = 50
REVIEWER_FAILING_LISTED = 50
REVIEWER_OUTPUTS = 10
REVIEWER_OUTPUT_CHARS = 1_500
TESTS_RULE = "hidden-test"
TESTS_SOURCE = "tests"
HEADING = "### Hidden tests"


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def counts_table(report: TestReport) -> list[str]:
    return [
        "| Passed | Failed | Errored | Skipped | Duration |",
        "|---:|---:|---:|---:|---:|",
        f"| {report.passed} | {report.failed} | {report.errored} | {report.skipped} "
        f"| {duration_text(report.duration)} |",
    ]


def _listed(cases: tuple[CaseResult, ...], limit: int) -> tuple[tuple[CaseResult, ...], str]:
    more = f"- … and {len(cases) - limit} more" if len(cases) > limit else ""
    return cases[:limit], more


def candidate_tests_section(outcome: TestOutcome | None, sees: str) -> str:
    """Markdown for the candidate's check run or comment ("" when there is nothing to show).

    `sees` is the assignment's `tests.candidate_sees`: "nothing", "counts" or "failing_names".
    """
    if outcome is None or sees not in ("counts", "failing_names"):
        return ""
    report = outcome.report
    if report is None:
        # The general sentence only: the detail can name the grader's files or permissions.
        return f"{HEADING}\n\nNo results: {outcome.why_none_general}.\n"
    out = [HEADING, "", *counts_table(report)]
    if sees == "failing_names" and report.failing:
        shown, more = _listed(report.failing, CANDIDATE_FAILING_LISTED)
        out += ["", "Failing tests:", ""]
        out += [f"- {code(c.full_name)} ({c.outcome.value})" for c in shown]
        out += [more] if more else []
    return "\n".join(out) + "\n"


def _run_link(url: str) -> str:
    return f"[the grader's run](<{url}>)" if url.startswith("https://") and ">" not in url else ""


def _reviewer_case(case: CaseResult, with_output: bool) -> list[str]:
    where = (
        f" at {code(f'{case.file}:{case.line}' if case.line else case.file)}" if case.file else ""
    )
    lines = [f"- **{md(case.full_name)}** ({case.outcome.value}){where}"]
    if case.message:
        lines.append(f"  {md(case.message)}")
    if with_output and case.output.strip():
        text = case.output.strip()
        if len(text) > REVIEWER_OUTPUT_CHARS:
            text = "…\n" + text[-REVIEWER_OUTPUT_CHARS:]
        block = fenced(text, "text").replace("\n", "\n  ")
        lines += ["  <details><summary>Output (printed by the submission's code)</summary>", ""]
        lines += [f"  {block}", "", "  </details>"]
    return lines


def reviewer_tests_section(outcome: TestOutcome | None) -> str:
    """Markdown for the reviewers' issue and `report`: counts, each failing test with its
    message, what the code printed, where the results came from; or why there are none."""
    if outcome is None:
        return ""
    link = _run_link(outcome.run_url)
    if outcome.report is None:
        via = f" ({link})" if link else ""
        return f"{HEADING}\n\nNo results: {md(outcome.why_none)}{via}.\n"
    report = outcome.report
    out = [HEADING, "", *counts_table(report), ""]
    sources = ", ".join(code(s) for s in report.sources[:20])
    if sources or link:
        out += [
            f"Read from {sources or 'the artifact'}" + (f" of {link}" if link else "") + ".",
            "",
        ]
    if report.failing:
        shown, more = _listed(report.failing, REVIEWER_FAILING_LISTED)
        out += ["#### Failing tests", ""]
        for index, case in enumerate(shown):
            out += _reviewer_case(case, with_output=index < REVIEWER_OUTPUTS)
        out += [more] if more else []
    return "\n".join(out) + "\n"


# --- annotations ----------------------------------------------------------------------------------


def _in_change(file: str, paths: frozenset[str]) -> str | None:
    """The changed path a report's file names: itself, or the longest changed path it ends with
    (graders often check the submission out into a folder of their own)."""
    parts = PurePosixPath(file.replace("\\", "/")).parts
    parts = tuple(p for p in parts if p not in ("/", "."))
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate in paths:
            return candidate
    return None


def _finding(case: CaseResult, path: str, line: int, sees: str) -> Finding:
    how = case.outcome.value  # failed | errored
    if sees == "failing_names":
        title = f"Hidden test {how}: {case.full_name}"
        message = f"The hidden test {case.full_name} {how}; its report points at this line."
    else:
        title = f"A hidden test {how} here"
        message = f"A hidden test {how}; its report points at this line (which one is not shown)."
    return Finding(path, line, line, Severity.ERROR, TESTS_RULE, message, title, TESTS_SOURCE)


def failure_findings(outcome: TestOutcome | None, sees: str, change: Change) -> tuple[Finding, ...]:
    """Findings for failing tests whose report names a file of the change and a line; they are
    anchored like any other finding (only changed lines are annotated). Within what the
    candidate may see: none with "nothing", no test names with "counts", never a message."""
    if outcome is None or outcome.report is None or sees not in ("counts", "failing_names"):
        return ()
    paths = frozenset(f.path for f in change.files)
    found = []
    for case in outcome.report.failing:
        if case.file and case.line:
            path = _in_change(case.file, paths)
            if path is not None:
                found.append(_finding(case, path, case.line, sees))
    return tuple(found)
