"""Similarity is evidence about two submissions: the earlier one's reviewers' issue is told too.

The later submission's issue carries the full side-by-side regions; each matched earlier
submission's issue gets one comment naming the later submission and the shares, once per later
head (a hidden marker makes a re-run post nothing twice).
"""

from __future__ import annotations

import json

from app.github.api import GitHubClient
from app.ledger import Ledger
from app.render_text import code

MARKER = "relo-similar"
MAX_NOTES = 5


def similar_note(repo: str, head_sha: str, share: float, their_share: float, issue: int) -> str:
    marker = f"<!-- {MARKER}:{repo}:{head_sha} -->"
    return (
        f"{marker}\nA later submission, {code(repo)} at {code(head_sha[:12])}, shares "
        f"{their_share:.0%} of this submission's code ({share:.0%} of its own); the matching "
        f"regions are side by side in #{issue}. An observation to check, not a verdict.\n"
    )


async def tell_matched(
    gh: GitHubClient,
    ledger: Ledger,
    *,
    reviewer_repo: str,
    repo: str,
    head_sha: str,
    issue: int,
    similarity_json: str,
) -> int:
    """Comment on each matched earlier submission's issue; returns how many were posted."""
    posted = 0
    for match in json.loads(similarity_json)[:MAX_NOTES]:
        known = await ledger.reviewer_issue(reviewer_repo, str(match["repo"]))
        if known is None:
            continue
        number = known[0]
        marker = f"<!-- {MARKER}:{repo}:{head_sha} -->"
        already = False
        async for comment in gh.getiter(
            f"/repos/{reviewer_repo}/issues/{number}/comments?per_page=100"
        ):
            if marker in (comment.get("body") or ""):
                already = True
                break
        if already:
            continue
        body = similar_note(
            repo, head_sha, float(match["share"]), float(match["their_share"]), issue
        )
        await gh.post(f"/repos/{reviewer_repo}/issues/{number}/comments", data={"body": body})
        posted += 1
    return posted
