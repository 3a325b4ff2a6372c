"""Reviewer-only results in the organisation's private reviewers' repository: one issue per
submission, created once, whose results comment is edited in place on every later review."""

from __future__ import annotations

from gidgethub import BadRequest

from app.github.api import GitHubClient
from app.ledger import Ledger


async def publish_reviewer_issue(
    gh: GitHubClient, ledger: Ledger, *, reviewer_repo: str, repo: str, title: str, body: str
) -> int:
    """Post `body` as the submission's results in `reviewer_repo`; returns the issue number."""
    known = await ledger.reviewer_issue(reviewer_repo, repo)
    if known is None:
        issue = await gh.post(
            f"/repos/{reviewer_repo}/issues",
            data={
                "title": title[:256],
                "body": f"Review results for the submission in `{repo}`, kept up to date by "
                "Relo Review in the comment below.",
            },
        )
        number, comment_id = int(issue["number"]), None
    else:
        number, comment_id = known
    if comment_id is not None:
        try:
            await gh.patch(
                f"/repos/{reviewer_repo}/issues/comments/{comment_id}", data={"body": body}
            )
        except BadRequest as exc:
            if int(exc.status_code) != 404:
                raise
            comment_id = None
    if comment_id is None:
        comment = await gh.post(
            f"/repos/{reviewer_repo}/issues/{number}/comments", data={"body": body}
        )
        comment_id = int(comment["id"])
    await ledger.remember_reviewer_issue(reviewer_repo, repo, number, comment_id)
    return number
