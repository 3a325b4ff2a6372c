"""The hidden tests' results as plain values: a JUnit report, or why a review has none.

The engine carries a `TestOutcome`; scoring and rendering read it. A missing report is never a
failed test: each reason says what happened instead, and the tests criterion stays with the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One test case. `name`, `classname` and `message` come from the organisation's tests (but
    an assertion message can quote values the candidate's code returned); `output` is what the
    run printed (traceback, stdout, stderr): candidate text, capped."""

    name: str
    outcome: Outcome
    classname: str = ""
    file: str | None = None
    line: int | None = None
    time: float = 0.0
    message: str = ""
    output: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.classname}.{self.name}" if self.classname else self.name


@dataclass(frozen=True, slots=True)
class TestReport:
    """Every case of every JUnit file of one run, in report order."""

    __test__ = False  # not a pytest test class

    cases: tuple[CaseResult, ...]
    sources: tuple[str, ...] = ()  # the XML files read

    def count(self, outcome: Outcome) -> int:
        return sum(1 for case in self.cases if case.outcome is outcome)

    @property
    def passed(self) -> int:
        return self.count(Outcome.PASSED)

    @property
    def failed(self) -> int:
        return self.count(Outcome.FAILED)

    @property
    def errored(self) -> int:
        return self.count(Outcome.ERRORED)

    @property
    def skipped(self) -> int:
        return self.count(Outcome.SKIPPED)

    @property
    def total(self) -> int:
        return len(self.cases)

    @property
    def duration(self) -> float:
        return sum(case.time for case in self.cases)

    @property
    def failing(self) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if c.outcome in (Outcome.FAILED, Outcome.ERRORED))

    def merged(self, other: TestReport) -> TestReport:
        return TestReport(self.cases + other.cases, self.sources + other.sources)


class NoReport(StrEnum):
    """Why a review has no test report. None of these is a test failure."""

    NOT_STARTED = "not_started"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    NO_ARTIFACT = "no_artifact"
    UNPARSEABLE = "unparseable"
    NO_PERMISSION = "no_permission"


NO_REPORT_SENTENCES = {
    NoReport.NOT_STARTED: "the grader workflow did not start",
    NoReport.TIMED_OUT: "the grader workflow did not finish within its time limit",
    NoReport.CANCELLED: "the grader workflow run was cancelled",
    NoReport.NO_ARTIFACT: "the grader workflow produced no test report artifact",
    NoReport.UNPARSEABLE: "the test report could not be read",
    NoReport.NO_PERMISSION: (
        "the app may not run the grader workflow (it needs Actions: write on the grader repository)"
    ),
}


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """What the hidden tests gave a review: a report, or the reason there is none.

    Build it with `TestOutcome.of(report)` or `TestOutcome.none(reason, detail)`; `detail` is a
    sentence fragment for people ("after 20 minutes", a `TestReportError`'s message).
    """

    __test__ = False

    report: TestReport | None = None
    missing: NoReport | None = None
    detail: str = ""
    run_url: str = ""

    def __post_init__(self) -> None:
        if (self.report is None) == (self.missing is None):
            raise ValueError("a TestOutcome holds either a report or the reason it has none")

    @classmethod
    def of(cls, report: TestReport, *, run_url: str = "") -> TestOutcome:
        return cls(report=report, run_url=run_url)

    @classmethod
    def none(cls, reason: NoReport, detail: str = "", *, run_url: str = "") -> TestOutcome:
        return cls(missing=reason, detail=detail, run_url=run_url)

    @property
    def why_none_general(self) -> str:
        """Why there are no results, without the detail (which can name the grader's files)."""
        return NO_REPORT_SENTENCES[self.missing] if self.missing is not None else ""

    @property
    def why_none(self) -> str:
        """Why there are no results, as a clause ("" when there is a report)."""
        if self.missing is None:
            return ""
        sentence = NO_REPORT_SENTENCES[self.missing]
        detail = self.detail.strip().rstrip(".")
        return f"{sentence} ({detail})" if detail else sentence


class TestReportError(Exception):
    """An artifact or XML file that cannot be read as a test report; the message is a sentence."""

    __test__ = False


class NotJUnitError(TestReportError):
    """Well-formed XML that is not a JUnit report: an artifact may hold other XML files."""


class TooManyCasesError(TestReportError):
    """More test cases than the cap: scoring a part of a report would misstate the result."""


# --- stored form (the ledger, the CLI's JSON) -------------------------------------------------


def case_json(case: CaseResult) -> dict[str, Any]:
    return {
        "name": case.name,
        "classname": case.classname,
        "outcome": case.outcome.value,
        "file": case.file,
        "line": case.line,
        "time": case.time,
        "message": case.message,
        "output": case.output,
    }


def outcome_json(outcome: TestOutcome) -> dict[str, Any]:
    """Everything, counts included for readers that do not recount: a JSON-ready dict."""
    data: dict[str, Any] = {
        "run_url": outcome.run_url,
        "missing": outcome.missing.value if outcome.missing else None,
        "detail": outcome.detail,
    }
    report = outcome.report
    if report is not None:
        data["counts"] = {o.value: report.count(o) for o in Outcome} | {"total": report.total}
        data["duration"] = round(report.duration, 3)
        data["sources"] = list(report.sources)
        data["cases"] = [case_json(c) for c in report.cases]
    return data


def outcome_from_json(data: dict[str, Any]) -> TestOutcome:
    if data.get("missing"):
        return TestOutcome.none(
            NoReport(data["missing"]), data.get("detail", ""), run_url=data.get("run_url", "")
        )
    cases = tuple(
        CaseResult(
            name=c["name"],
            outcome=Outcome(c["outcome"]),
            classname=c.get("classname", ""),
            file=c.get("file"),
            line=c.get("line"),
            time=float(c.get("time", 0.0)),
            message=c.get("message", ""),
            output=c.get("output", ""),
        )
        for c in data.get("cases", ())
    )
    report = TestReport(cases, tuple(data.get("sources", ())))
    return TestOutcome.of(report, run_url=data.get("run_url", ""))
