"""Reading a submission's commit history from GitHub: one commits list, paged, and the
repository's creation time. A cohort costs no more per review than that.

The list walks back from the head (newest first) and stops at the base, so `base_sha` must be
an ancestor of the head: the starter commit of a push, or the merge base of a PR (the base
branch's tip would let the walk run past the fork point into the starter's own history).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.github.api import GitHubClient
from app.review.history import CommitFact

MAX_COMMITS = 1000  # ten pages; a submission with more is cut (and says so)


@dataclass(frozen=True, slots=True)
class CommitHistory:
    commits: tuple[CommitFact, ...]  # newest first, the base excluded
    complete: bool  # False: MAX_COMMITS reached, or the base was never met


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _login(user: Any) -> str | None:
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else None


def commit_fact(item: dict[str, Any]) -> CommitFact:
    """A `commit` of GitHub's commits list (or of a compare's `commits`) as a CommitFact."""
    git = item.get("commit") or {}
    author, committer = git.get("author") or {}, git.get("committer") or {}
    stats = item.get("stats")
    additions = stats.get("additions") if isinstance(stats, dict) else None
    return CommitFact(
        sha=_text(item.get("sha")),
        message=_text(git.get("message")),
        author_name=_text(author.get("name")),
        author_email=_text(author.get("email")),
        author_login=_login(item.get("author")),
        authored_at=_when(author.get("date")),
        committer_name=_text(committer.get("name")),
        committer_email=_text(committer.get("email")),
        committer_login=_login(item.get("committer")),
        committed_at=_when(committer.get("date")),
        parents=len(item.get("parents") or ()),
        additions=additions if isinstance(additions, int) else None,
    )


def commit_facts(items: Iterable[dict[str, Any]]) -> list[CommitFact]:
    return [commit_fact(item) for item in items if isinstance(item, dict)]


async def fetch_history(
    gh: GitHubClient, repo: str, base_sha: str, head_sha: str, *, max_commits: int = MAX_COMMITS
) -> CommitHistory:
    """The commits from the head back to (not including) the base, newest first."""
    found: list[CommitFact] = []
    if head_sha == base_sha:
        return CommitHistory((), True)
    url = f"/repos/{repo}/commits?sha={head_sha}&per_page=100"
    async with aclosing(gh.getiter(url)) as items:  # stop paging at the base
        async for item in items:
            if not isinstance(item, dict):
                continue
            if item.get("sha") == base_sha:
                return CommitHistory(tuple(found), True)
            if len(found) >= max_commits:
                break
            found.append(commit_fact(item))
    return CommitHistory(tuple(found), False)


async def repo_created_at(gh: GitHubClient, repo: str) -> datetime | None:
    """When GitHub created the repository (a template copy or Classroom's fork: the assignment
    started then)."""
    data = await gh.getitem(f"/repos/{repo}")
    return _when(data.get("created_at")) if isinstance(data, dict) else None
