"""Reading a submission from GitHub: the change, its commit messages, and the baseline.

A PR is compared `base...head` (GitHub's three-dot compare is the PR's own diff) in one request
that also brings the commit messages; only when GitHub's 300-file compare cap is hit do we page
through the PR's file list (up to 3,000 files). A push is compared against the baseline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from app.github.api import GitHubClient
from app.github.change import COMPARE_FILES_LIMIT, PULL_FILES_LIMIT, build_change
from app.github.history import commit_facts
from app.review.history import CommitFact
from app.review.models import Change


class BaselineError(Exception):
    """The baseline commit for a push review could not be found."""


@dataclass(frozen=True, slots=True)
class Fetched:
    change: Change
    commit_messages: tuple[str, ...]
    committers: tuple[str, ...] = ()  # GitHub logins of the commits' authors and committers
    commits: tuple[CommitFact, ...] = ()  # oldest first, as the compare lists them


def _committers(compare: dict[str, Any]) -> tuple[str, ...]:
    logins: dict[str, None] = {}
    for commit in compare.get("commits") or []:
        for role in ("author", "committer"):
            login = ((commit or {}).get(role) or {}).get("login")
            if isinstance(login, str) and login != "web-flow":
                logins[login] = None
    return tuple(logins)


def _messages(compare: dict[str, Any]) -> tuple[str, ...]:
    out = []
    for commit in compare.get("commits") or []:
        message = ((commit or {}).get("commit") or {}).get("message")
        if isinstance(message, str):
            out.append(message)
    return tuple(out)


async def compare(
    gh: GitHubClient, repo: str, base: str, head: str, *, pull_number: int | None = None
) -> Fetched:
    data = await gh.getitem(f"/repos/{repo}/compare/{base}...{head}?per_page=100")
    entries: list[dict[str, Any]] = list(data.get("files") or [])
    merge_base = (data.get("merge_base_commit") or {}).get("sha") or base
    limit = COMPARE_FILES_LIMIT
    if len(entries) >= COMPARE_FILES_LIMIT and pull_number is not None:
        entries = [
            dict(item)
            async for item in gh.getiter(f"/repos/{repo}/pulls/{pull_number}/files?per_page=100")
        ]
        limit = PULL_FILES_LIMIT
    # Parsing thousands of patches is CPU work: off the event loop.
    change = await asyncio.to_thread(build_change, merge_base, head, entries, limit=limit)
    return Fetched(
        change=change, commit_messages=_messages(data), committers=_committers(data),
        commits=tuple(commit_facts(data.get("commits") or [])),
    )


async def first_commit(gh: GitHubClient, repo: str, head: str) -> str:
    """The oldest commit reachable from head: the starter code in a Classroom-style repo."""
    url = f"/repos/{repo}/commits?sha={head}&per_page=1"
    page, links = await gh.get_with_links(url)
    if "last" in links:
        page, _ = await gh.get_with_links(links["last"])
    if not page:
        raise BaselineError(f"{repo} has no commits before {head[:7]}.")
    return str(page[-1]["sha"])


async def resolve_baseline(gh: GitHubClient, repo: str, head: str, baseline: str | None) -> str:
    """A branch name or a SHA -> a commit SHA; None -> the first commit (the starter code)."""
    if baseline is None:
        return await first_commit(gh, repo, head)
    data = await gh.getitem(f"/repos/{repo}/commits/{baseline}")
    sha = data.get("sha") if isinstance(data, dict) else None
    if not isinstance(sha, str):
        raise BaselineError(f"The baseline {baseline!r} is not a commit in {repo}.")
    return sha
