"""Review -> what the candidate sees on GitHub: check-run output, annotations, the PR comment
and inline comments. Pure.

Everything here renders a `CandidateView` (app/render_candidate.py), never a whole `Review`:
what the view leaves out (injection flags, hidden scores, rationales, the model's summary, cost)
cannot appear. Untrusted strings enter markdown only through app/render_text.py's escaping, and
every output is cut to GitHub's limits as GitHub counts them (UTF-8 bytes), with a note.

Rendering is linear in the review, but a review of a large change can carry thousands of
findings: the `render_*` coroutines run the same functions in a worker thread, for callers on
the event loop.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from app.render_candidate import CandidateView, candidate_view, reviewer_only, total
from app.render_text import (
    MAX_ANNOTATION_BYTES,
    MAX_BODY_BYTES,
    code,
    fenced,
    fit,
    fit_title,
    md,
    md_paragraphs,
)
from app.review.models import CriterionScore, Finding, Review, Severity

COMMENT_MARKER = "<!-- relo-review -->"
INLINE_MARKER = "relo-review"
MAX_ANNOTATIONS_PER_REQUEST = 50

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")

LEVELS = {Severity.NOTICE: "notice", Severity.WARNING: "warning", Severity.ERROR: "failure"}
ICONS = {Severity.NOTICE: "🔵", Severity.WARNING: "🟡", Severity.ERROR: "🔴"}


@dataclass(frozen=True, slots=True)
class CheckOutput:
    conclusion: str
    title: str
    summary: str
    annotations: tuple[dict[str, Any], ...]

    def batches(self) -> Iterator[tuple[dict[str, Any], ...]]:
        """Annotations in GitHub's chunks of 50; at least one (possibly empty) batch."""
        annotations = self.annotations
        if not annotations:
            yield ()
            return
        for start in range(0, len(annotations), MAX_ANNOTATIONS_PER_REQUEST):
            yield annotations[start : start + MAX_ANNOTATIONS_PER_REQUEST]


def conclusion_for(view: CandidateView) -> str:
    """From what the candidate sees: a flag they cannot see does not change the conclusion."""
    worst = view.worst
    if worst is None:
        return "success"
    return "failure" if worst is Severity.ERROR else "neutral"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_title(view: CandidateView) -> str:
    counts = Counter(f.severity for f in view.findings)
    if not view.findings:
        title = "No findings on the changed lines"
    else:
        parts = [
            _plural(counts[s], name)
            for s, name in (
                (Severity.ERROR, "error"),
                (Severity.WARNING, "warning"),
                (Severity.NOTICE, "notice"),
            )
            if counts[s]
        ]
        title = ", ".join(parts)
    if view.show_score:
        score = total(view.scores)
        missing = sum(1 for s in view.scores if s.score is None)
        if score is not None:
            more = f", {missing} not assessed" if missing else ""
            title = f"Score {score[0]:g}/{score[1]}{more} · {title}"
        elif view.scores:
            title = f"Rubric not assessed · {title}"
    return fit_title(title)


def annotation(finding: Finding) -> dict[str, Any]:
    """Annotations are plain text (no markdown), cut to GitHub's sizes."""
    entry: dict[str, Any] = {
        "path": finding.path,
        "start_line": finding.start_line,
        "end_line": max(finding.end_line, finding.start_line),
        "annotation_level": LEVELS[finding.severity],
        "message": fit(finding.message or finding.rule, MAX_ANNOTATION_BYTES),
        "title": fit_title(finding.title or finding.rule),
    }
    if finding.suggestion:
        entry["raw_details"] = fit(f"Suggestion:\n{finding.suggestion}", MAX_ANNOTATION_BYTES)
    return entry


def rubric_table(scores: Sequence[CriterionScore]) -> list[str]:
    if not scores:
        return []
    lines = ["| Criterion | Points | Score | Rationale |", "|---|---:|---:|---|"]
    for score in scores:
        value = "not assessed" if score.score is None else f"{score.score:g}"
        first = score.rationale.strip().split("\n", 1)[0] if score.rationale else ""
        rationale = md(first[:200])
        lines.append(f"| {md(score.criterion_id)} | {score.points} | {value} | {rationale} |")
    score_total = total(tuple(scores))
    if score_total is not None:
        partial = any(s.score is None for s in scores)
        label = "**Total** (assessed criteria)" if partial else "**Total**"
        lines.append(f"| {label} | **{score_total[1]}** | **{score_total[0]:g}** | |")
    else:
        lines.append("| **Total** | | not assessed | no criterion was assessed |")
    return ["### Rubric", "", *lines, ""]


def findings_list(findings: Sequence[Finding], limit: int = 30, more: str = "") -> list[str]:
    lines = []
    for f in findings[:limit]:
        where = code(f"{f.path}:{f.start_line}") if f.path else "(submission text)"
        what = md(f.title or f.rule)
        lines.append(f"- {ICONS[f.severity]} {where} **{what}** — {md(f.message)}")
    if len(findings) > limit:
        lines.append(f"- … and {len(findings) - limit} more{more}")
    return lines


def candidate_markdown(view: CandidateView, *, annotations: bool = True) -> str:
    """The check run's summary and the PR comment's body. `annotations`: whether the findings
    are also on a check run (with `feedback.check_run: false` there is none to point to)."""
    out: list[str] = []
    if view.title:
        out += [f"## {md(view.title)}", ""]
    if view.summary:
        out += [md_paragraphs(view.summary), ""]
    out += rubric_table(view.scores)
    counts = Counter(f.severity for f in view.findings)
    out.append(
        f"**{_plural(len(view.findings), 'finding')}** on changed lines "
        f"({counts[Severity.ERROR]} error, {counts[Severity.WARNING]} warning, "
        f"{counts[Severity.NOTICE]} notice) across {_plural(view.files_reviewed, 'file')} "
        "reviewed."
    )
    if view.outside_diff:
        out.append(
            f"{_plural(view.outside_diff, 'further finding')} on lines this submission "
            "did not change (not annotated)."
        )
    out.append("")
    if view.tests:
        out += [view.tests.rstrip("\n"), ""]
    if view.findings:
        limit, more = (30, " (see the annotations)") if annotations else (200, ", not listed")
        out += ["### Findings", "", *findings_list(view.findings, limit, more), ""]
    if view.skipped:
        out += ["### Files not reviewed", ""]
        out += [f"- {code(s.path)} — {md(s.reason)}" for s in view.skipped[:100]]
        if len(view.skipped) > 100:
            out.append(f"- … and {len(view.skipped) - 100} more")
        out.append("")
    if view.notes:
        out += ["### Notes", "", *[f"- {md(n)}" for n in view.notes], ""]
    if view.dropped:  # reasons are the validator's own identifiers
        dropped = ", ".join(
            f"{n} {reason if _IDENTIFIER.fullmatch(reason) else md(reason)}"
            for reason, n in view.dropped
        )
        out += [f"_Model output discarded by validation: {dropped}._", ""]
    return "\n".join(out).strip() + "\n"


def summary_markdown(review: Review, *, show_score: bool = True) -> str:
    """Everything, for whoever runs `python -m app review` locally: the candidate's markdown
    plus the flags that only reviewers see. Never posted to a candidate's repository."""
    text = candidate_markdown(candidate_view(review, show_score=show_score))
    flags = reviewer_only(review)
    if flags:
        text += "\n" + "\n".join(["### Flags for reviewers", "", *findings_list(flags)]) + "\n"
    return text


def check_output(
    review: Review, *, show_score: bool = True, tests_sees: str = "nothing"
) -> CheckOutput:
    view = candidate_view(review, show_score=show_score, tests_sees=tests_sees)
    return CheckOutput(
        conclusion=conclusion_for(view),
        title=check_title(view),
        summary=fit(candidate_markdown(view)),
        annotations=tuple(annotation(f) for f in view.findings),
    )


def comment_body(
    review: Review, *, show_score: bool, annotations: bool = True, tests_sees: str = "nothing"
) -> str:
    view = candidate_view(review, show_score=show_score, tests_sees=tests_sees)
    head = f"{COMMENT_MARKER}\n### Relo Review\n\n"
    body = candidate_markdown(view, annotations=annotations)
    return head + fit(body, MAX_BODY_BYTES - len(head.encode()))


def inline_findings(review: Review, *, show_score: bool) -> tuple[Finding, ...]:
    """The findings a candidate may get as comments on their lines."""
    return candidate_view(review, show_score=show_score).findings


def inline_body(finding: Finding) -> str:
    tail = f"\n\n<sub>{INLINE_MARKER}</sub>"
    body = f"**{md(finding.title or finding.rule)}** — {md(finding.message)}"
    if finding.suggestion is not None:
        body += "\n\n" + fenced(finding.suggestion, "suggestion")
        if len(body.encode()) + len(tail.encode()) > MAX_BODY_BYTES:  # a cut suggestion is wrong
            body = body.split("\n\n", 1)[0]
    return fit(body, MAX_BODY_BYTES - len(tail.encode())) + tail


def failure_output(sentence: str) -> tuple[str, str]:
    """Title and summary for a check run whose review could not be completed."""
    return "The review could not be completed", fit(
        f"{md(sentence)}\n\nUse **Re-run** on this check to try again."
    )


# --- for callers on the event loop ---------------------------------------------------------------


async def render_check_output(
    review: Review, *, show_score: bool = True, tests_sees: str = "nothing"
) -> CheckOutput:
    return await asyncio.to_thread(
        check_output, review, show_score=show_score, tests_sees=tests_sees
    )


async def render_inline_findings(review: Review, *, show_score: bool) -> tuple[Finding, ...]:
    return await asyncio.to_thread(inline_findings, review, show_score=show_score)


async def render_comment_body(
    review: Review, *, show_score: bool, annotations: bool = True, tests_sees: str = "nothing"
) -> str:
    return await asyncio.to_thread(
        comment_body, review, show_score=show_score, annotations=annotations,
        tests_sees=tests_sees,
    )
