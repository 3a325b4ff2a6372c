"""The LLM's answer: the schema it must follow, and what of it is kept.

The model is an unreliable witness, so nothing it says is used as given: scores are clamped to
the rubric's points, criteria outside the rubric and citations of lines the change did not touch
are dropped (and counted, so the review can say how much was thrown away), and the answers of a
chunked review are merged into one. Pure functions, tested without a server.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from app.review.models import Change, Criterion, CriterionScore, Evidence, Finding, Severity
from app.review.pipeline import ChangedLines

# --- the answer schema (sent as json_schema, and used to validate json_object answers) ----------
# No non-null defaults in the schema (strict structured output rejects them): optional fields use
# default_factory, which pydantic leaves out of the JSON schema.

_SEVERITY_ALIASES = {
    "info": "notice",
    "note": "notice",
    "minor": "notice",
    "low": "notice",
    "warn": "warning",
    "medium": "warning",
    "major": "warning",
    "critical": "error",
    "high": "error",
    "bug": "error",
}


class AnswerEvidence(BaseModel):
    path: str
    start_line: int
    end_line: int


class AnswerCriterion(BaseModel):
    id: str
    score: float | None
    rationale: str = Field(default_factory=str)
    evidence: list[AnswerEvidence] = Field(default_factory=list)


class AnswerFinding(BaseModel):
    path: str
    start_line: int
    end_line: int
    severity: Literal["notice", "warning", "error"]
    title: str = Field(default_factory=str)
    message: str = Field(default_factory=str)
    suggestion: str | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _lenient_severity(cls, value: object) -> object:
        """Small local models say "info" or "High"; map the obvious synonyms, reject the rest."""
        if isinstance(value, str):
            lowered = value.strip().lower()
            return _SEVERITY_ALIASES.get(lowered, lowered)
        return value


class ReviewAnswer(BaseModel):
    summary: str = Field(default_factory=str)
    criteria: list[AnswerCriterion] = Field(default_factory=list)
    findings: list[AnswerFinding] = Field(default_factory=list)


# --- validation -----------------------------------------------------------------------------------

# Reasons an item of the answer was dropped; keys of LLMAssessment.dropped.
UNKNOWN_CRITERION = "unknown_criterion"
DUPLICATE_CRITERION = "duplicate_criterion"
INVALID_SCORE = "invalid_score"
FINDING_PATH = "finding_path_not_in_change"
FINDING_LINES = "finding_lines_not_changed"
EVIDENCE_PATH = "evidence_path_not_in_change"
EVIDENCE_LINES = "evidence_lines_not_changed"


@dataclass(frozen=True, slots=True)
class PartResult:
    """One request's answer after validation; `scores` holds only criteria it assessed."""

    summary: str
    scores: Mapping[str, CriterionScore]
    findings: tuple[Finding, ...]
    dropped: Mapping[str, int]


def normalise_range(start: int, end: int) -> tuple[int, int]:
    low, high = sorted((max(1, start), max(1, end)))
    return low, high


def _anchor(
    change: ChangedLines,
    path: str,
    start: int,
    end: int,
    reasons: tuple[str, str],
    dropped: Counter[str],
) -> tuple[int, int] | None:
    """The normalised range if it touches a changed line of a file in the change, else count it."""
    if path not in change:
        dropped[reasons[0]] += 1
        return None
    low, high = normalise_range(start, end)
    if change.covered(path, low, high) is None:
        dropped[reasons[1]] += 1
        return None
    return low, high


def validate_answer(
    answer: ReviewAnswer, rubric: Sequence[Criterion], change: Change | ChangedLines
) -> PartResult:
    """Keep what can be trusted: rubric criteria with clamped scores, citations of changed lines.

    Pass the review's `ChangedLines` when validating several answers against one change.
    """
    if isinstance(change, Change):
        change = ChangedLines(change)
    points = {c.id: c.points for c in rubric}
    dropped: Counter[str] = Counter()
    scores: dict[str, CriterionScore] = {}
    for item in answer.criteria:
        if item.id not in points:
            dropped[UNKNOWN_CRITERION] += 1
            continue
        if item.id in scores:
            dropped[DUPLICATE_CRITERION] += 1
            continue
        if item.score is None:
            continue
        if not math.isfinite(item.score):
            dropped[INVALID_SCORE] += 1
            continue
        evidence: list[Evidence] = []
        for ev in item.evidence:
            anchored = _anchor(
                change,
                ev.path,
                ev.start_line,
                ev.end_line,
                (EVIDENCE_PATH, EVIDENCE_LINES),
                dropped,
            )
            if anchored is not None:
                evidence.append(Evidence(ev.path, *anchored))
        top = points[item.id]
        scores[item.id] = CriterionScore(
            item.id,
            top,
            min(max(item.score, 0.0), float(top)),
            item.rationale.strip(),
            tuple(dict.fromkeys(evidence)),
        )
    findings: list[Finding] = []
    for f in answer.findings:
        anchored = _anchor(
            change, f.path, f.start_line, f.end_line, (FINDING_PATH, FINDING_LINES), dropped
        )
        if anchored is None:
            continue
        findings.append(
            Finding(
                path=f.path,
                start_line=anchored[0],
                end_line=anchored[1],
                severity=Severity(f.severity),
                rule="llm",
                message=f.message.strip(),
                title=f.title.strip(),
                source="llm",
                suggestion=f.suggestion or None,
            )
        )
    return PartResult(answer.summary.strip(), scores, tuple(findings), dict(dropped))


def merge_parts(
    parts: Sequence[PartResult], weights: Sequence[int], rubric: Sequence[Criterion]
) -> tuple[str, tuple[CriterionScore, ...]]:
    """Combine the answers of a chunked review.

    Per criterion: the mean of the scores of the parts that assessed it, weighted by each part's
    size in tokens (a part showing more of the code says more), rounded to 2 decimals; parts that
    gave null (nothing relevant shown) do not count, so a criterion no part assessed stays None.
    Rationales and summaries are joined in part order without duplicates; evidence is the union.
    """
    summary = "\n\n".join(dict.fromkeys(p.summary for p in parts if p.summary))
    merged: list[CriterionScore] = []
    for criterion in rubric:
        assessed = [
            (p.scores[criterion.id], max(w, 1))
            for p, w in zip(parts, weights, strict=True)
            if criterion.id in p.scores
        ]
        if not assessed:
            merged.append(CriterionScore(criterion.id, criterion.points, None))
            continue
        total = sum(w for _, w in assessed)
        mean = sum((s.score or 0.0) * w for s, w in assessed) / total
        merged.append(
            CriterionScore(
                criterion.id,
                criterion.points,
                round(mean, 2),
                " ".join(dict.fromkeys(s.rationale for s, _ in assessed if s.rationale)),
                tuple(dict.fromkeys(e for s, _ in assessed for e in s.evidence)),
            )
        )
    return summary, tuple(merged)


def dedupe_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """The findings without repeats (same place, title and message), first one kept."""
    seen: dict[tuple[str, int, int, str, str], Finding] = {}
    for f in findings:
        seen.setdefault((f.path, f.start_line, f.end_line, f.title, f.message), f)
    return tuple(seen.values())
