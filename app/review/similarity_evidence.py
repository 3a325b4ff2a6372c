"""What a reviewer sees of a similarity match: the other submission, the share in common and the
matching regions side by side. Pure; reviewer-only (never in anything a candidate sees)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from app.render_text import code, md
from app.review.similarity import Fingerprint

# Fingerprints at most this many lines apart on both sides belong to one region: winnowing keeps
# about one k-gram in six, so neighbouring fingerprints of one copied block are a line or two apart.
REGION_GAP = 3
MAX_REGIONS = 20  # per match, the largest first: enough to judge, short enough to read


@dataclass(frozen=True, slots=True)
class Region:
    """Lines of the new submission and the lines of the other that match them."""

    path: str
    start_line: int
    end_line: int
    other_path: str
    other_start: int
    other_end: int
    prints: int  # fingerprints in common within the region


@dataclass(frozen=True, slots=True)
class Match:
    repo: str
    review_id: int
    shared: int  # distinct fingerprints in common
    share: float  # of the new submission's distinct fingerprints
    their_share: float  # of the other submission's
    regions: tuple[Region, ...]


def regions(ours: Iterable[Fingerprint], theirs: Iterable[Fingerprint]) -> tuple[Region, ...]:
    """Common fingerprints paired in order of position, merged into contiguous regions.

    A hash that occurs several times on a side is paired occurrence by occurrence, so repeated
    code does not multiply; regions break where either side jumps (a reordered function starts a
    region of its own)."""
    mine: dict[int, list[Fingerprint]] = defaultdict(list)
    for fp in ours:
        mine[fp.hash].append(fp)
    other: dict[int, list[Fingerprint]] = defaultdict(list)
    for fp in theirs:
        if fp.hash in mine:
            other[fp.hash].append(fp)
    pairs: list[tuple[Fingerprint, Fingerprint]] = []
    for h, theirs_h in other.items():
        key = _position
        pairs.extend(zip(sorted(mine[h], key=key), sorted(theirs_h, key=key), strict=False))
    pairs.sort(key=lambda p: (p[0].path, p[1].path, p[0].start_line, p[1].start_line))
    merged: list[Region] = []
    for a, b in pairs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.path, last.other_path) == (a.path, b.path)
            and a.start_line <= last.end_line + REGION_GAP
            and last.other_start - REGION_GAP <= b.start_line <= last.other_end + REGION_GAP
        ):
            merged[-1] = Region(
                a.path,
                last.start_line,
                max(last.end_line, a.end_line),
                b.path,
                min(last.other_start, b.start_line),
                max(last.other_end, b.end_line),
                last.prints + 1,
            )
        else:
            merged.append(
                Region(a.path, a.start_line, a.end_line, b.path, b.start_line, b.end_line, 1)
            )
    merged.sort(key=lambda r: (-r.prints, r.path, r.start_line))
    return tuple(merged[:MAX_REGIONS])


def _position(fp: Fingerprint) -> tuple[str, int, int]:
    return (fp.path, fp.start_line, fp.end_line)


def _lines(start: int, end: int) -> str:
    return f"{start}" if start == end else f"{start}-{end}"


def render_matches(matches: Sequence[Match]) -> str:
    """Markdown section for the reviewers' issue; every path and repo name is escaped."""
    if not matches:
        return ""
    out = [
        "### Similar submissions",
        "",
        "Code in common with other submissions of this assignment, beyond the starter code "
        "(identifiers, literals, comments and layout ignored). An observation to check, "
        "not a verdict.",
        "",
        "| submission | review | share of this one | share of theirs |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {md(m.repo)} | {m.review_id} | {m.share:.0%} | {m.their_share:.0%} |" for m in matches
    ]
    for m in matches:
        out += ["", f"**{md(m.repo)}** — matching regions (this submission ⇄ theirs):", ""]
        out += [
            f"- {code(r.path)} lines {_lines(r.start_line, r.end_line)} ⇄ "
            f"{code(r.other_path)} lines {_lines(r.other_start, r.other_end)}"
            for r in m.regions
        ]
    return "\n".join(out) + "\n"


def matches_json(matches: Sequence[Match]) -> list[dict[str, Any]]:
    """JSON-ready matches, for `reviews.similarity` and `report` (the first is the top match)."""
    return [
        {
            "repo": m.repo,
            "review_id": m.review_id,
            "shared": m.shared,
            "share": round(m.share, 4),
            "their_share": round(m.their_share, 4),
            "regions": [
                {
                    "path": r.path,
                    "lines": [r.start_line, r.end_line],
                    "other_path": r.other_path,
                    "other_lines": [r.other_start, r.other_end],
                    "prints": r.prints,
                }
                for r in m.regions
            ],
        }
        for m in matches
    ]
