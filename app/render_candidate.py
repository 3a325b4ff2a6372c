"""What a candidate may see of a review: a separate value built from an allow-list. Pure.

Everything candidate-visible (the check run's title, summary and annotations, the PR comment,
inline comments) is rendered from a `CandidateView`, never from a `Review`, so what the view
leaves out cannot reach the candidate whatever the model wrote:

- findings only from the allowed sources: deterministic analysis (`static`), hidden tests'
  failures (`tests`) and the model's line findings (`llm`); grader-injection flags and any
  source added later stay reviewer-only until they are added here. Counts, the title and the
  conclusion come from these findings alone, so a flag does not show even as a changed number
  (each would tell the candidate which phrasing the detector catches);
- the hidden tests only as far as the assignment's `tests.candidate_sees` allows;
- with scores hidden: no scores, no rationales, no model summary (the model's overall judgement
  is the grade in words), no validation counts; the model's line findings lose every sentence
  that talks about a score or grade (`strip_score_talk`), and a finding with nothing left is
  dropped;
- never: similarity, history signals, usage and cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from app.review.models import CriterionScore, Finding, Review, Severity, SkippedFile
from app.review.tests_render import TESTS_SOURCE, candidate_tests_section

# Hidden tests' failures are made only as far as the assignment's `tests.candidate_sees` allows.
CANDIDATE_SOURCES = frozenset({"static", "llm", TESTS_SOURCE})
LLM_SOURCE = "llm"

_NUMBER = (
    r"(?:\d+(?:[.,]\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)"
)
# Statements of a score or grade: "97/100", "9.5 out of 10", "39 points", "97%", "full marks",
# "an A-", and the words a grade is spoken in. Broad on purpose: a lost sentence of line
# feedback costs little, a leaked grade cannot be taken back.
_SCORE_TALK = re.compile(
    rf"""
    \b{_NUMBER}\s*(?:/|\\|out\s+of|of\s+a\s+possible|on\s+a\s+scale\s+of)\s*{_NUMBER}\b
  | \b{_NUMBER}\s*(?:%|percent\b|per\s+cent\b|points?\b|pts\b|marks\b|stars?\b)
  | \b(?:full|top|high|highest|perfect|maximum|max|low|lowest|zero|no|bonus)\s+
        (?:marks?|scores?|points|grades?)\b
  | \b(?:scor(?:e|es|ed|ing)|grad(?:e|es|ed|ing)|rubric|ratings?|rated|deserv\w*|award\w*)\b
  | \b(?:an?|the)\s+(?-i:A[+-]?|[B-F][+-])(?=[\s.,;:!?)]|$)
  | \b(?:give|gave|giving|assign\w*)\b[^.!?\n]{{0,40}}?\b{_NUMBER}\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def talks_score(text: str) -> bool:
    return _SCORE_TALK.search(text) is not None


def strip_score_talk(text: str) -> str:
    """`text` without the sentences that state or hint at a score or grade."""
    kept = [s for s in _SENTENCE_END.split(text) if s.strip() and not talks_score(s)]
    return " ".join(kept)


@dataclass(frozen=True, slots=True)
class CandidateView:
    """The fields of a review a candidate may see; see the module's doc for the rules."""

    title: str
    findings: tuple[Finding, ...]
    outside_diff: int
    files_reviewed: int
    skipped: tuple[SkippedFile, ...]
    notes: tuple[str, ...]
    show_score: bool
    tests: str = ""  # markdown, within the assignment's `tests.candidate_sees`
    summary: str = ""
    scores: tuple[CriterionScore, ...] = ()
    dropped: tuple[tuple[str, int], ...] = ()

    @property
    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)


def total(scores: tuple[CriterionScore, ...]) -> tuple[float, int] | None:
    """(score, points) over the criteria assessed; None when none was (not a zero)."""
    assessed = [s for s in scores if s.score is not None]
    if not assessed:
        return None
    return sum(s.score or 0.0 for s in assessed), sum(s.points for s in assessed)


def _without_score_talk(finding: Finding) -> Finding | None:
    message = strip_score_talk(finding.message)
    if not message:
        return None
    title = finding.title if not talks_score(finding.title) else "Review comment"
    suggestion = finding.suggestion
    if suggestion is not None and talks_score(suggestion):
        suggestion = None
    return replace(finding, message=message, title=title, suggestion=suggestion)


def _allowed(findings: tuple[Finding, ...], show_score: bool) -> tuple[Finding, ...]:
    out = []
    for finding in findings:
        if finding.source not in CANDIDATE_SOURCES:
            continue
        if finding.source == LLM_SOURCE and not show_score:
            kept = _without_score_talk(finding)
            if kept is None:
                continue
            finding = kept
        out.append(finding)
    return tuple(out)


def reviewer_only(review: Review) -> tuple[Finding, ...]:
    """The findings no candidate sees (injection flags in files and in PR text or commits)."""
    return tuple(f for f in review.findings if f.source not in CANDIDATE_SOURCES) + tuple(
        review.flags
    )


def candidate_view(
    review: Review, *, show_score: bool, tests_sees: str = "nothing"
) -> CandidateView:
    """The candidate's view of `review`, field by field: nothing is copied wholesale.
    `tests_sees` is the assignment's `tests.candidate_sees`."""
    return CandidateView(
        title=review.title,
        findings=_allowed(review.findings, show_score),
        outside_diff=len(_allowed(review.outside_diff, show_score)),
        files_reviewed=review.files_reviewed,
        skipped=review.skipped,
        notes=review.notes,
        show_score=show_score,
        tests=candidate_tests_section(review.tests, tests_sees),
        summary=review.summary if show_score else "",
        scores=review.scores if show_score else (),
        dropped=review.dropped if show_score else (),
    )
