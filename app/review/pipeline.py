"""Putting reviewer results together. Pure: findings in, a Review out.

Only findings that touch lines the submission added are annotated; findings elsewhere are
counted, never moved to a nearby line, so no annotation ever lands on a line the candidate
did not write. A change can hold thousands of files and a finding per line of each, so lookups
go through `ChangedLines` (files by path, lines sorted) rather than scanning the change.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import replace

from app.review.models import Change, Finding


class ChangedLines:
    """The changed lines of each file of a change, by path and sorted, built once per review."""

    __slots__ = ("_lines",)

    def __init__(self, change: Change) -> None:
        self._lines: dict[str, list[int]] = {}
        for changed in change.files:
            self._lines.setdefault(changed.path, sorted(changed.changed_lines))

    def __contains__(self, path: object) -> bool:
        return path in self._lines

    def covered(self, path: str, start: int, end: int) -> tuple[int, int] | None:
        """The first and last changed lines of `path` within start..end (either order), or None
        when the range covers none (or the file is not in the change)."""
        lines = self._lines.get(path)
        if not lines:
            return None
        low, high = sorted((start, end))
        first = bisect.bisect_left(lines, low)
        last = bisect.bisect_right(lines, high)
        return (lines[first], lines[last - 1]) if first < last else None


def touches_change(finding: Finding, change: Change | ChangedLines) -> bool:
    lines = change if isinstance(change, ChangedLines) else ChangedLines(change)
    return lines.covered(finding.path, finding.start_line, finding.end_line) is not None


def clamp_to_change(finding: Finding, change: Change | ChangedLines) -> Finding:
    """Shrink a finding's range to the changed lines it covers, so the annotation is precise."""
    lines = change if isinstance(change, ChangedLines) else ChangedLines(change)
    covered = lines.covered(finding.path, finding.start_line, finding.end_line)
    if covered is None or covered == (finding.start_line, finding.end_line):
        return finding
    return replace(finding, start_line=covered[0], end_line=covered[1])


def anchor(
    found: Iterable[Finding], change: Change | ChangedLines
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """Split findings into (on changed lines, elsewhere)."""
    lines = change if isinstance(change, ChangedLines) else ChangedLines(change)
    on: list[Finding] = []
    off: list[Finding] = []
    for finding in found:
        covered = (
            lines.covered(finding.path, finding.start_line, finding.end_line)
            if finding.path and finding.start_line >= 1
            else None
        )
        if covered is None:
            off.append(finding)
        elif covered == (finding.start_line, finding.end_line):
            on.append(finding)
        else:
            on.append(replace(finding, start_line=covered[0], end_line=covered[1]))
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


def settle(
    change: Change, *groups: Sequence[Finding]
) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """All reviewers' findings merged and anchored: (on changed lines, elsewhere).

    Anchoring shrinks ranges to the changed lines they cover, which can make two findings
    identical (a model citing line 5 and lines 1-9 around it): those collapse again.
    """
    on_diff, outside = anchor(merge_findings(*groups), change)
    return merge_findings(on_diff), outside
