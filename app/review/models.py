"""Plain, immutable values that flow through the review pipeline.

Nothing here does I/O: the change, the findings and the finished review are data, so that
deciding, anchoring, scoring and rendering can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from app.review.history import Signal
from app.review.tests_outcome import TestOutcome


class Severity(StrEnum):
    NOTICE = "notice"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"notice": 0, "warning": 1, "error": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about the submission, anchored to new-side lines of one file."""

    path: str
    start_line: int
    end_line: int
    severity: Severity
    rule: str
    message: str
    title: str = ""
    source: str = "static"
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """A file the submission touched, with the new-side lines its patch adds or modifies."""

    path: str
    status: str  # added | modified | removed | renamed | copied | changed | unchanged
    changed_lines: frozenset[int]
    patch: str | None = None
    additions: int = 0
    deletions: int = 0
    previous_path: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Change:
    """What the submission changed between the baseline and the head."""

    base_sha: str
    head_sha: str
    files: tuple[ChangedFile, ...]
    skipped: tuple[SkippedFile, ...] = ()

    def file(self, path: str) -> ChangedFile | None:
        for changed in self.files:
            if changed.path == path:
                return changed
        return None


@dataclass(frozen=True, slots=True)
class Submission:
    """Everything a reviewer may look at: the change, the head's content of its files, and text
    the candidate wrote around it (PR title/body, commit messages), which is data, never config."""

    repo: str
    change: Change
    contents: Mapping[str, bytes] = field(default_factory=dict)
    title: str = ""
    body: str = ""
    commit_messages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewerResult:
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()


class Reviewer(Protocol):
    """One kind of reviewer (static analysis, an LLM). Raises ReviewError when it cannot review."""

    name: str

    async def review(self, submission: Submission) -> ReviewerResult: ...


class ReviewError(Exception):
    """A review could not be completed; the message is a sentence for whoever reads the check."""


@dataclass(frozen=True, slots=True)
class Criterion:
    """One rubric criterion, from the organisation's trusted config only."""

    id: str
    description: str
    points: int


@dataclass(frozen=True, slots=True)
class Evidence:
    path: str
    start_line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class CriterionScore:
    """A grade for one criterion. `score is None` means "not assessed": never invented."""

    criterion_id: str
    points: int
    score: float | None
    rationale: str = ""
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one LLM request used; cost is computed from settings' price table by the caller."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Of `prompt_tokens`, those the provider served from its prompt cache (billed cheaper).
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class CIEntry:
    """A check of another app on the reviewed commit (the candidate's own CI): information for
    reviewers, never evidence; `untrusted` when the submission changed its CI configuration."""

    app: str
    name: str
    status: str
    conclusion: str | None
    url: str
    untrusted: bool


@dataclass(frozen=True, slots=True)
class Review:
    """The finished review: findings on changed lines, scores, and what was left out and why."""

    head_sha: str
    findings: tuple[Finding, ...]
    outside_diff: tuple[Finding, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    files_reviewed: int = 0
    notes: tuple[str, ...] = ()
    title: str = ""
    summary: str = ""
    scores: tuple[CriterionScore, ...] = ()
    flags: tuple[Finding, ...] = ()  # grader-addressed text outside files (title, body, commits)
    dropped: tuple[tuple[str, int], ...] = ()  # LLM output discarded by validation, by reason
    usage: tuple[Usage, ...] = ()
    cost_usd: float = 0.0
    # The hidden tests' report, or why there is none; None when the assignment has no tests.
    tests: TestOutcome | None = None
    candidate_ci: tuple[CIEntry, ...] = ()  # reviewer-only
    history: tuple[Signal, ...] = ()  # reviewer-only observations on the commit history
    history_notes: tuple[str, ...] = ()  # history checks that could not run
    similarity_report: str = ""  # reviewer-only markdown: the closest earlier submissions
    similarity_json: str | None = None  # the same for the ledger and `report`

    @property
    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    @property
    def total(self) -> tuple[float, int] | None:
        """(score, points) over the criteria that were assessed; None when none was. A
        criterion that was not assessed is not a zero: it counts in neither number."""
        assessed = [s for s in self.scores if s.score is not None]
        if not assessed:
            return None
        return sum(s.score or 0.0 for s in assessed), sum(s.points for s in assessed)

    @property
    def not_assessed(self) -> int:
        return sum(1 for s in self.scores if s.score is None)
