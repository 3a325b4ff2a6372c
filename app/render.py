"""Review -> what GitHub shows: check-run output, annotations and the PR comment. Pure.

GitHub's limits shape this module: 65,535 characters per output field, 50 annotations per
request, titles of 255 characters. Text is cut with a note, never silently.

Rendering is linear in the review, but a review of a large change can carry thousands of
findings: the `render_*` coroutines run the same functions in a worker thread, for callers on
the event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.review.models import Finding, Review, Severity

COMMENT_MARKER = "<!-- relo-review -->"
MAX_OUTPUT_CHARS = 65_535
MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_TITLE_CHARS = 255
MAX_MESSAGE_CHARS = 60_000
CUT_NOTE = "\n\n… (cut: the full text is longer than GitHub allows)"

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


def cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(CUT_NOTE)] + CUT_NOTE


def conclusion_for(review: Review) -> str:
    worst = review.worst
    if worst is None:
        return "success"
    return "failure" if worst is Severity.ERROR else "neutral"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_title(review: Review) -> str:
    counts = Counter(f.severity for f in review.findings)
    if not review.findings:
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
    total = review.total
    if total is not None:
        missing = f", {review.not_assessed} not assessed" if review.not_assessed else ""
        title = f"Score {total[0]:g}/{total[1]}{missing} · {title}"
    elif review.scores:
        title = f"Rubric not assessed · {title}"
    return title[:MAX_TITLE_CHARS]


def annotation(finding: Finding) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": finding.path,
        "start_line": finding.start_line,
        "end_line": max(finding.end_line, finding.start_line),
        "annotation_level": LEVELS[finding.severity],
        "message": finding.message[:MAX_MESSAGE_CHARS] or finding.rule,
        "title": (finding.title or finding.rule)[:MAX_TITLE_CHARS],
    }
    if finding.suggestion:
        entry["raw_details"] = f"Suggestion:\n{finding.suggestion}"[:MAX_MESSAGE_CHARS]
    return entry


def _escape_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def rubric_table(review: Review) -> list[str]:
    if not review.scores:
        return []
    lines = ["| Criterion | Points | Score | Rationale |", "|---|---:|---:|---|"]
    for score in review.scores:
        value = "not assessed" if score.score is None else f"{score.score:g}"
        rationale = _escape_cell(score.rationale.splitlines()[0] if score.rationale else "")
        lines.append(f"| {score.criterion_id} | {score.points} | {value} | {rationale[:200]} |")
    total = review.total
    if total is not None:
        label = "**Total** (assessed criteria)" if review.not_assessed else "**Total**"
        lines.append(f"| {label} | **{total[1]}** | **{total[0]:g}** | |")
    else:
        lines.append("| **Total** | | not assessed | no criterion was assessed |")
    return ["### Rubric", "", *lines, ""]


def _findings_list(findings: Sequence[Finding], limit: int = 30) -> list[str]:
    lines = []
    for f in findings[:limit]:
        where = f"`{f.path}:{f.start_line}`" if f.path else "(submission text)"
        lines.append(f"- {ICONS[f.severity]} {where} **{f.title or f.rule}** — {f.message}")
    if len(findings) > limit:
        lines.append(f"- … and {len(findings) - limit} more (see the annotations)")
    return lines


def summary_markdown(review: Review, *, show_score: bool = True) -> str:
    """The check run's summary (reviewers see scores) or the candidate-facing comment body."""
    out: list[str] = []
    if review.title:
        out += [f"## {review.title}", ""]
    if review.summary:
        out += [review.summary.strip(), ""]
    if show_score:
        out += rubric_table(review)
    counts = Counter(f.severity for f in review.findings)
    out.append(
        f"**{_plural(len(review.findings), 'finding')}** on changed lines "
        f"({counts[Severity.ERROR]} error, {counts[Severity.WARNING]} warning, "
        f"{counts[Severity.NOTICE]} notice) across {_plural(review.files_reviewed, 'file')} "
        "reviewed."
    )
    if review.outside_diff:
        out.append(
            f"{_plural(len(review.outside_diff), 'further finding')} on lines this submission "
            "did not change (not annotated)."
        )
    out.append("")
    if review.findings:
        out += ["### Findings", "", *_findings_list(review.findings), ""]
    if review.flags and show_score:
        out += ["### Flags for reviewers", "", *_findings_list(review.flags), ""]
    if review.skipped:
        out += ["### Files not reviewed", ""]
        out += [f"- `{s.path}` — {s.reason}" for s in review.skipped[:100]]
        if len(review.skipped) > 100:
            out.append(f"- … and {len(review.skipped) - 100} more")
        out.append("")
    if review.notes:
        out += ["### Notes", "", *[f"- {n}" for n in review.notes], ""]
    if review.dropped and show_score:
        dropped = ", ".join(f"{n} {reason}" for reason, n in review.dropped)
        out += [f"_Model output discarded by validation: {dropped}._", ""]
    return "\n".join(out).strip() + "\n"


def check_output(review: Review, *, show_score: bool = True) -> CheckOutput:
    shown = review if show_score else replace(review, scores=())
    return CheckOutput(
        conclusion=conclusion_for(review),
        title=check_title(shown),
        summary=cut(summary_markdown(review, show_score=show_score)),
        annotations=tuple(annotation(f) for f in review.findings),
    )


def comment_body(review: Review, *, show_score: bool) -> str:
    heading = "### Relo Review\n\n"
    return (
        COMMENT_MARKER
        + "\n"
        + cut(
            heading + summary_markdown(review, show_score=show_score),
            MAX_OUTPUT_CHARS - len(COMMENT_MARKER) - 1,
        )
    )


def failure_output(sentence: str) -> tuple[str, str]:
    """Title and summary for a check run whose review could not be completed."""
    return "The review could not be completed", cut(
        f"{sentence}\n\nUse **Re-run** on this check to try again."
    )


def reviewer_report(
    review: Review,
    *,
    repo: str,
    subject: str,
    author: str | None,
    received_at: str,
    late: bool,
) -> str:
    """The reviewer-only record of a submission: full scores, evidence, flags, cost."""
    out = [
        f"{COMMENT_MARKER}",
        f"## {review.title or 'Review'} — `{repo}`",
        "",
        f"- Submission: {subject} at `{review.head_sha[:12]}` by {author or 'unknown'}",
        f"- Received: {received_at}{' — **LATE** (after the deadline)' if late else ''}",
        "",
    ]
    if review.summary:
        out += [review.summary.strip(), ""]
    if review.scores:
        out += rubric_table(review)
        for score in review.scores:
            if score.rationale or score.evidence:
                evidence = ", ".join(
                    f"`{e.path}:{e.start_line}-{e.end_line}`" for e in score.evidence
                )
                out.append(f"- **{score.criterion_id}**: {score.rationale.strip()}")
                if evidence:
                    out.append(f"  Evidence: {evidence}")
        out.append("")
    injection = [f for f in review.findings if f.source == "injection"] + list(review.flags)
    if injection:
        out += ["### Possible attempts to influence the review", "", *_findings_list(injection), ""]
    counts = Counter(f.severity for f in review.findings)
    out.append(
        f"Findings on changed lines: {counts[Severity.ERROR]} error, "
        f"{counts[Severity.WARNING]} warning, {counts[Severity.NOTICE]} notice."
    )
    if review.skipped:
        out += ["", "### Files not reviewed", ""]
        out += [f"- `{s.path}` — {s.reason}" for s in review.skipped[:200]]
    if review.notes:
        out += ["", "### Notes", "", *[f"- {n}" for n in review.notes]]
    prompt = sum(u.prompt_tokens for u in review.usage)
    completion = sum(u.completion_tokens for u in review.usage)
    out += ["", f"LLM usage: {prompt} prompt + {completion} completion tokens, "
            f"${review.cost_usd:.4f}."]
    return cut("\n".join(out) + "\n")


# --- for callers on the event loop ---------------------------------------------------------------


async def render_check_output(review: Review, *, show_score: bool = True) -> CheckOutput:
    return await asyncio.to_thread(check_output, review, show_score=show_score)


async def render_comment_body(review: Review, *, show_score: bool) -> str:
    return await asyncio.to_thread(comment_body, review, show_score=show_score)


async def render_reviewer_report(
    review: Review,
    *,
    repo: str,
    subject: str,
    author: str | None,
    received_at: str,
    late: bool,
) -> str:
    return await asyncio.to_thread(
        reviewer_report,
        review,
        repo=repo,
        subject=subject,
        author=author,
        received_at=received_at,
        late=late,
    )
