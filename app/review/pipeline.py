"""Putting reviewer results together. Pure: findings in, a Review out.

Only findings that touch lines the submission added are annotated; findings elsewhere are
counted, never moved to a nearby line, so no annotation ever lands on a line the candidate
did not write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from app.review.models import Change, Finding


def touches_change(finding: Finding, change: Change) -> bool:
    changed = change.file(finding.path)
    if changed is None:
        return False
    start, end = sorted((finding.start_line, finding.end_line))
    return any(start <= line <= end for line in changed.changed_lines)


def clamp_to_change(finding: Finding, change: Change) -> Finding:
    """Shrink a finding's range to the changed lines it covers, so the annotation is precise."""
    changed = change.file(finding.path)
    if changed is None:
        return finding
    start, end = sorted((finding.start_line, finding.end_line))
    covered = [line for line in changed.changed_lines if start <= line <= end]
    if not covered:
        return finding
    lo, hi = min(covered), max(covered)
    if (lo, hi) == (finding.start_line, finding.end_line):
        return finding
    return replace(finding, start_line=lo, end_line=hi)


def anchor(
    found: Iterable[Finding], change: Change
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """Split findings into (on changed lines, elsewhere)."""
    on: list[Finding] = []
    off: list[Finding] = []
    for finding in found:
        if finding.path and finding.start_line >= 1 and touches_change(finding, change):
            on.append(clamp_to_change(finding, change))
        else:
            off.append(finding)
    return tuple(on), tuple(off)


def _key(f: Finding) -> tuple[str, int, int]:
    return (f.path, f.start_line, f.end_line)


def merge_findings(*groups: Sequence[Finding]) -> tuple[Finding, ...]:
    """Merge reviewers' findings; the same rule twice on the same lines, or two reviewers on the
    exact same lines with the same title, collapse into the most severe one."""
    best: dict[tuple[str, int, int, str], Finding] = {}
    for group in groups:
        for f in group:
            k = (*_key(f), (f.title or f.rule).casefold())
            current = best.get(k)
            if current is None or f.severity.rank > current.severity.rank:
                best[k] = f
    return tuple(
        sorted(best.values(), key=lambda f: (-f.severity.rank, f.path, f.start_line, f.rule))
    )
