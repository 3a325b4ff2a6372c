"""One review of one submission, whatever asked for it (a webhook job or the local CLI).

Static analysis, the grader-injection scan and the LLM run over the same filtered change; their
findings are merged and anchored to changed lines. The LLM is optional and fallible: when it
fails the review still completes with static results and says so. Hidden tests, when the
assignment has them, are evidence the model reads and cannot outvote: their results go into the
prompt, and after the model's assessment they decide (or cap) their criterion in code.

A change can hold 3,000 files or megabytes of text, and the event loop serves every webhook and
review of the process: CPU work over the whole change (the injection scan, the file checks, the
LLM's plan, merging and anchoring) runs in worker threads, and its algorithms stay linear.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from app.review.assignment import Assignment
from app.review.injection import redact_flagged, scan_submission
from app.review.llm import LLMAssessment, LLMReviewer, LLMReviewError, price_usd
from app.review.models import (
    CriterionScore,
    Evidence,
    Finding,
    Review,
    Reviewer,
    ReviewError,
    Severity,
    SkippedFile,
    Submission,
    Usage,
)
from app.review.pipeline import settle
from app.review.prompt_plan import order_files
from app.review.prompt_tests import PromptEvidence, hidden_test_evidence
from app.review.tests_outcome import TestOutcome
from app.review.tests_render import failure_findings
from app.review.tests_scoring import apply_tests

log = logging.getLogger(__name__)

AssessmentCache = tuple[
    Callable[[str], Awaitable[LLMAssessment | None]],
    Callable[[str, LLMAssessment], Awaitable[None]],
]


@dataclass(frozen=True, slots=True)
class ReviewPlan:
    """Everything one review needs besides the submission; an immutable value per review."""

    assignment: Assignment
    reviewers: tuple[Reviewer, ...]
    llm: LLMReviewer | None = None
    model: str = ""
    prices: Mapping[str, tuple[float, ...]] | None = None
    fresh: bool = False
    # A re-run that nobody with the right to a fresh grade asked for: the stored assessment
    # of this commit is shown again, and the LLM is never called (nor billed).
    reuse_only: bool = False
    received_at: datetime | None = None
    # The hidden tests' results for this head (or why there are none); None: not run.
    tests: TestOutcome | None = None


def _llm_failed(exc: Exception) -> str:
    reason = str(exc).strip().rstrip(".") or type(exc).__name__
    return f"The LLM review failed: {reason}. This review shows static analysis only."


def filter_paths(submission: Submission, assignment: Assignment) -> Submission:
    """Drop files outside the assignment's include/exclude globs, listing them as skipped."""
    change = submission.change
    kept = tuple(f for f in change.files if assignment.includes(f.path))
    excluded = tuple(
        SkippedFile(f.path, "excluded by the assignment's paths")
        for f in change.files
        if not assignment.includes(f.path)
    )
    if assignment.max_files is not None and len(kept) > assignment.max_files:
        ordered = order_files(kept)
        allowed = {f.path for f in ordered[: assignment.max_files]}
        excluded += tuple(
            SkippedFile(f.path, f"over the assignment's limit of {assignment.max_files} files")
            for f in ordered[assignment.max_files :]
        )
        kept = tuple(f for f in kept if f.path in allowed)
    if not excluded:
        return submission
    return replace(
        submission, change=replace(change, files=kept, skipped=change.skipped + excluded)
    )


def is_late(assignment: Assignment, received_at: datetime | None) -> bool:
    """Late by when GitHub delivered the submission: commit dates are the candidate's to set."""
    return (
        assignment.deadline is not None
        and received_at is not None
        and received_at > assignment.deadline
    )


def cache_key(
    submission: Submission,
    assignment: Assignment,
    model: str,
    evidence: PromptEvidence | None = None,
) -> str:
    """What an assessment depends on; the hidden tests' evidence too, when the model saw any."""
    key = f"{submission.repo}|{submission.change.head_sha}|{assignment.version}|{model}"
    if evidence:
        digest = hashlib.sha256(f"{evidence.trusted}\0{evidence.fenced}".encode()).hexdigest()
        key += f"|tests:{digest[:16]}"
    return key


def _tests_scored(
    assignment: Assignment, scores: tuple[CriterionScore, ...], outcome: TestOutcome | None
) -> tuple[tuple[CriterionScore, ...], str | None]:
    """The tests' criterion decided in code, after (and whatever) the model said."""
    config = assignment.tests
    if config is None:
        return scores, None
    points = next(c.points for c in assignment.rubric if c.id == config.criterion)
    return apply_tests(scores, outcome, config, points)


async def _static(
    reviewers: Sequence[Reviewer], submission: Submission
) -> tuple[list[Finding], list[str]]:
    found: list[Finding] = []
    notes: list[str] = []
    for reviewer in reviewers:
        try:
            result = await reviewer.review(submission)
        except ReviewError as exc:
            notes.append(f"The {reviewer.name} reviewer could not run: {exc}")
            continue
        found.extend(result.findings)
        notes.extend(result.notes)
    return found, notes


async def review_submission(
    submission: Submission, plan: ReviewPlan, cache: AssessmentCache | None = None
) -> Review:
    assignment = plan.assignment
    submission = filter_paths(submission, assignment)
    # Pure CPU over possibly large text: keep it off the event loop.
    injection = await asyncio.to_thread(scan_submission, submission)
    in_files = tuple(f for f in injection if f.path)
    flags = tuple(f for f in injection if not f.path)
    static_found, notes = await _static(plan.reviewers, submission)
    evidence = hidden_test_evidence(plan.tests, assignment.tests)

    assessment: LLMAssessment | None = None
    usage: tuple[Usage, ...] = ()
    skipped = submission.change.skipped
    if plan.llm is not None:
        key = cache_key(submission, assignment, plan.model, evidence)
        if cache is not None and not plan.fresh:
            assessment = await cache[0](key)
            if assessment is not None:
                notes.append("The LLM's assessment of this commit was reused (same rubric).")
        if assessment is None and plan.reuse_only:
            notes.append(
                "The LLM was not asked again: only a reviewer can ask for a fresh grade, and "
                "no earlier assessment of this commit is stored."
            )
        elif assessment is None:
            try:
                # What the scan flags never reaches the model (a compliant model cannot obey
                # what it is not shown); a submission with no flag is not rescanned.
                llm = plan.llm.masked_with(redact_flagged) if injection else plan.llm
                assessment = await llm.assess(submission, evidence or None)
            except LLMReviewError as exc:
                usage = exc.usage
                notes.append(_llm_failed(exc))
            except ReviewError as exc:
                notes.append(_llm_failed(exc))
            else:
                usage = assessment.usage
                if cache is not None:
                    await cache[1](key, assessment)
        if assessment is not None:
            skipped += assessment.files_not_reviewed

    llm_findings = assessment.findings if assessment else ()
    sees = assignment.tests.candidate_sees if assignment.tests else "nothing"
    test_found = failure_findings(plan.tests, sees, submission.change)
    on_diff, outside = await asyncio.to_thread(
        settle, submission.change, static_found, llm_findings, in_files, test_found
    )
    if is_late(assignment, plan.received_at):
        notes.insert(0, f"Submitted after the deadline ({assignment.deadline}).")
    scores = assessment.criteria if assessment else ()
    if not scores and assignment.rubric:
        scores = tuple(CriterionScore(c.id, c.points, None) for c in assignment.rubric)
    scores, tests_note = _tests_scored(assignment, scores, plan.tests)
    if tests_note:
        notes.append(tests_note)
    return Review(
        head_sha=submission.change.head_sha,
        findings=on_diff,
        outside_diff=outside,
        skipped=skipped,
        files_reviewed=len(submission.change.files),
        notes=tuple(notes),
        title=assignment.title,
        summary=assessment.summary if assessment else "",
        scores=scores,
        flags=flags,
        dropped=tuple(sorted(assessment.dropped.items())) if assessment else (),
        usage=usage,
        cost_usd=price_usd(usage, plan.prices or {}) if usage else 0.0,
        tests=plan.tests,
    )


def assessment_to_json(assessment: LLMAssessment) -> str:
    """The stored form of an LLM assessment, so a re-run of the same commit costs nothing."""
    return json.dumps(
        {
            "summary": assessment.summary,
            "criteria": [
                {
                    "id": c.criterion_id,
                    "points": c.points,
                    "score": c.score,
                    "rationale": c.rationale,
                    "evidence": [[e.path, e.start_line, e.end_line] for e in c.evidence],
                }
                for c in assessment.criteria
            ],
            "findings": [
                {
                    "path": f.path,
                    "start": f.start_line,
                    "end": f.end_line,
                    "severity": f.severity.value,
                    "rule": f.rule,
                    "message": f.message,
                    "title": f.title,
                    "source": f.source,
                    "suggestion": f.suggestion,
                }
                for f in assessment.findings
            ],
            "dropped": dict(assessment.dropped),
            "not_reviewed": [[s.path, s.reason] for s in assessment.files_not_reviewed],
        }
    )


def assessment_from_json(text: str) -> LLMAssessment:
    data = json.loads(text)
    return LLMAssessment(
        summary=data["summary"],
        criteria=tuple(
            CriterionScore(
                c["id"],
                c["points"],
                c["score"],
                c["rationale"],
                tuple(Evidence(*e) for e in c["evidence"]),
            )
            for c in data["criteria"]
        ),
        findings=tuple(
            Finding(
                f["path"],
                f["start"],
                f["end"],
                Severity(f["severity"]),
                f["rule"],
                f["message"],
                f["title"],
                f["source"],
                f["suggestion"],
            )
            for f in data["findings"]
        ),
        dropped=data["dropped"],
        files_not_reviewed=tuple(SkippedFile(*s) for s in data["not_reviewed"]),
    )
