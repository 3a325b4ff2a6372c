"""Fetching the assignment config from the organisation's `.github` repository — the only place
it may come from. Cached by that repository's head commit, re-checked at most once a minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gidgethub import BadRequest

from app.github.api import GitHubClient
from app.review.assignment import CONFIG_PATH, AssignmentConfig, parse_config

CONFIG_REPO = ".github"
RECHECK_SECONDS = 60.0
RAW = "application/vnd.github.raw+json"


@dataclass(frozen=True, slots=True)
class OrgConfig:
    """The parsed config (None: the organisation has no config file) at one commit."""

    sha: str | None
    config: AssignmentConfig | None


async def read_file(gh: GitHubClient, repo: str, path: str, ref: str) -> str | None:
    """A text file's content, or None when it does not exist."""
    try:
        data = await gh.getitem(f"/repos/{repo}/contents/{path}?ref={ref}", accept=RAW)
    except BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    if isinstance(data, str):
        return data
    return None  # a directory listing, not a file


class AssignmentSource:
    """Per-owner cache of the org's assignment config; parse errors propagate to the caller
    (AssignmentConfigError) so the submission's check run can say which line is wrong."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[str, tuple[float, OrgConfig]] = {}

    async def head(self, gh: GitHubClient, owner: str) -> str | None:
        try:
            data = await gh.getitem(f"/repos/{owner}/{CONFIG_REPO}/commits/HEAD")
        except BadRequest as exc:
            if int(exc.status_code) in {404, 409}:  # no such repo, or an empty one
                return None
            raise
        sha = data.get("sha") if isinstance(data, dict) else None
        return sha if isinstance(sha, str) else None

    async def load(self, gh: GitHubClient, owner: str) -> OrgConfig:
        now = self._clock()
        cached = self._cache.get(owner)
        if cached is not None and now - cached[0] < RECHECK_SECONDS:
            return cached[1]
        sha = await self.head(gh, owner)
        if cached is not None and cached[1].sha == sha:
            self._cache[owner] = (now, cached[1])
            return cached[1]
        config = None
        if sha is not None:
            text = await read_file(gh, f"{owner}/{CONFIG_REPO}", CONFIG_PATH, sha)
            if text is not None:
                config = parse_config(text, source=f"{owner}/{CONFIG_REPO}: {CONFIG_PATH}")
        result = OrgConfig(sha=sha, config=config)
        self._cache[owner] = (now, result)
        return result

    async def brief(self, gh: GitHubClient, owner: str, sha: str | None, path: str) -> str | None:
        if sha is None:
            return None
        return await read_file(gh, f"{owner}/{CONFIG_REPO}", path, sha)
