"""Reviewer-only results in the organisation's private reviewers' repository: one issue per
submission, created once, whose results comment is edited in place on every later review.

This module only talks to GitHub: the caller reads what it knows of the issue from the ledger
and remembers what this returns (only the job layer writes the ledger).
"""

from __future__ import annotations

from app.github.api import AmbiguousWrite, GitHubClient
from app.github.publish import create_marked_comment, upsert_comment
from app.render import COMMENT_MARKER


class ReviewerIssueMayExist(AmbiguousWrite):
    """GitHub's answer to creating the reviewers' issue was lost. GitHub offers this app no way
    to look an issue up (the API subset has no issue listing or search), so it is not created
    again: that could leave two issues for one submission."""


async def publish_reviewer_issue(
    gh: GitHubClient,
    *,
    known: tuple[int, int | None] | None,
    reviewer_repo: str,
    repo: str,
    title: str,
    body: str,
) -> tuple[int, int]:
    """Post `body` (our marked results) as the submission's results in `reviewer_repo`.

    `known` is the (issue number, results comment id) remembered from an earlier review.
    Returns both, for the caller to remember."""
    if COMMENT_MARKER not in body:  # the marker is how a lost answer's comment is found
        body = f"{COMMENT_MARKER}\n{body}"
    if known is None:
        try:
            issue = await gh.post(
                f"/repos/{reviewer_repo}/issues",
                data={
                    "title": title[:256],
                    "body": f"Review results for the submission in `{repo}`, kept up to date by "
                    "Relo Review in the comment below.",
                },
            )
        except AmbiguousWrite as exc:
            raise ReviewerIssueMayExist(
                f"The issue for {repo} in {reviewer_repo} may have been created, but GitHub's "
                "answer was lost; it was not created again, to avoid a duplicate."
            ) from exc
        number = int(issue["number"])
        return number, await create_marked_comment(gh, reviewer_repo, number, body)
    number, comment_id = known
    return number, await upsert_comment(gh, reviewer_repo, number, body, known_id=comment_id)
