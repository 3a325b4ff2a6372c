"""The reviewers' record of a submission, for the organisation's private reviewers' repository:
full scores and rationales, evidence, flags, hidden tests, lateness, cost. Pure.

Reviewers are not adversaries, but what they read is still the candidate's text (file names,
flagged phrases, the model's echo of the code): it is escaped like everything else, so a file
name cannot forge a rubric row here either, and the body is cut to GitHub's limit in bytes.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from app.render import COMMENT_MARKER, findings_list, rubric_table
from app.render_candidate import reviewer_only
from app.render_text import MAX_BODY_BYTES, code, fit, md, md_paragraphs
from app.review.history import render_history
from app.review.models import Review, Severity
from app.review.tests_render import reviewer_tests_section


def _candidate_ci(review: Review) -> list[str]:
    untrusted = any(c.untrusted for c in review.candidate_ci)
    out = ["### The candidate's own CI (information, not evidence)", ""]
    if untrusted:
        out += [
            "**Untrusted:** the submission changed its CI configuration (`.github/workflows`), "
            "so a green check may be its own doing.",
            "",
        ]
    for c in review.candidate_ci:
        result = c.conclusion or c.status
        link = f" ({md(c.url)})" if c.url else ""
        out.append(f"- {md(c.app)} / {md(c.name)}: {md(result)}{link}")
    return [*out, ""]


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
        f"## {md(review.title or 'Review')} — {code(repo)}",
        "",
        f"- Submission: {md(subject)} at {code(review.head_sha[:12])} by "
        f"{md(author or 'unknown')}",
        f"- Received: {md(received_at)}{' — **LATE** (after the deadline)' if late else ''}",
        "",
    ]
    if review.summary:
        out += [md_paragraphs(review.summary), ""]
    if review.scores:
        out += rubric_table(review.scores)
        for score in review.scores:
            if score.rationale or score.evidence:
                evidence = ", ".join(
                    code(f"{e.path}:{e.start_line}-{e.end_line}") for e in score.evidence
                )
                out.append(f"- **{md(score.criterion_id)}**: {md(score.rationale)}")
                if evidence:
                    out.append(f"  Evidence: {evidence}")
        out.append("")
    flagged = reviewer_only(review)
    if flagged:
        out += ["### Possible attempts to influence the review", "", *findings_list(flagged), ""]
    if tests := reviewer_tests_section(review.tests):
        out += [tests.rstrip("\n"), ""]
    if review.candidate_ci:
        out += _candidate_ci(review)
    if review.similarity_report:
        out += [review.similarity_report.rstrip("\n"), ""]
    if review.history or review.history_notes:
        out += [render_history(review.history, review.history_notes).rstrip("\n"), ""]
    counts = Counter(f.severity for f in review.findings)
    out.append(
        f"Findings on changed lines: {counts[Severity.ERROR]} error, "
        f"{counts[Severity.WARNING]} warning, {counts[Severity.NOTICE]} notice."
    )
    if review.skipped:
        out += ["", "### Files not reviewed", ""]
        out += [f"- {code(s.path)} — {md(s.reason)}" for s in review.skipped[:200]]
        if len(review.skipped) > 200:
            out.append(f"- … and {len(review.skipped) - 200} more")
    if review.notes:
        out += ["", "### Notes", "", *[f"- {md(n)}" for n in review.notes]]
    prompt = sum(u.prompt_tokens for u in review.usage)
    completion = sum(u.completion_tokens for u in review.usage)
    out += [
        "",
        f"LLM usage: {prompt} prompt + {completion} completion tokens, "
        f"${review.cost_usd:.4f}.",
    ]
    head = f"{COMMENT_MARKER}\n"
    return head + fit("\n".join(out) + "\n", MAX_BODY_BYTES - len(head.encode()))


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

