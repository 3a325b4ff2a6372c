"""The candidate's own CI on the reviewed commit: other apps' check suites and runs.

Reviewers see it as information, never as evidence that decides a score: the candidate writes
their repository's CI configuration, so a workflow can report success without testing anything.
When the submission changed that configuration compared with the starter, every entry is marked
untrusted, so a reviewer knows a green tick may be the candidate's own doing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.github.api import GitHubClient

# Where a repository's CI is configured: Actions workflows and the local actions they may use.
CI_CONFIG_PREFIXES = (".github/workflows/", ".github/actions/")
MAX_CHECKS = 100  # what a reviewer can read; a commit rarely has more than a few


@dataclass(frozen=True, slots=True)
class CheckSummary:
    app: str  # the app's name, e.g. "GitHub Actions"
    name: str  # the check run's name (the app's name for a suite with no runs listed)
    status: str  # queued, in_progress, completed...
    conclusion: str | None
    url: str  # where a reviewer reads it ("" when GitHub gives none)
    untrusted: bool  # the submission changed its CI configuration


def workflows_changed(paths: Iterable[str]) -> bool:
    """Whether any changed path (both sides of a rename included) configures the repo's CI."""
    return any(path.startswith(CI_CONFIG_PREFIXES) for path in paths)


def _app(item: Mapping[str, Any]) -> tuple[int | None, str]:
    app = item.get("app")
    if not isinstance(app, Mapping):
        return None, "unknown app"
    app_id = app.get("id")
    name = app.get("name") or app.get("slug") or "unknown app"
    return (app_id if isinstance(app_id, int) else None), str(name)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _idle(suite: Mapping[str, Any]) -> bool:
    """GitHub opens a suite on every push for each app that may write checks; one that stays
    queued with no run is an app that never reports, not CI."""
    return suite.get("status") == "queued" and not suite.get("latest_check_runs_count")


async def candidate_ci(
    gh: GitHubClient, repo: str, head_sha: str, *, app_id: int, workflows_changed: bool
) -> list[CheckSummary]:
    """Other apps' checks on `head_sha`: each check run, and each suite that lists none yet
    (queued). `app_id` is this app's, whose own check runs are not the candidate's CI."""
    suites: dict[int, Mapping[str, Any]] = {}
    async for suite in gh.getiter(f"/repos/{repo}/commits/{head_sha}/check-suites?per_page=100",
                                  iterable_key="check_suites"):
        owner, _ = _app(suite)
        if owner != app_id and isinstance(suite.get("id"), int):
            suites[suite["id"]] = suite
        if len(suites) >= MAX_CHECKS:
            break
    found: list[CheckSummary] = []
    with_runs: set[int] = set()
    url = f"/repos/{repo}/commits/{head_sha}/check-runs?filter=latest&per_page=100"
    async for run in gh.getiter(url, iterable_key="check_runs"):
        owner, app_name = _app(run)
        if owner == app_id:
            continue
        suite_id = (run.get("check_suite") or {}).get("id")
        if isinstance(suite_id, int):
            with_runs.add(suite_id)
        found.append(CheckSummary(
            app=app_name, name=_text(run.get("name")) or "(unnamed)",
            status=_text(run.get("status")), conclusion=_text(run.get("conclusion")) or None,
            url=_text(run.get("html_url")) or _text(run.get("details_url")),
            untrusted=workflows_changed,
        ))
        if len(found) >= MAX_CHECKS:
            break
    for suite_id, suite in suites.items():
        if suite_id in with_runs or len(found) >= MAX_CHECKS or _idle(suite):
            continue
        _, app_name = _app(suite)
        found.append(CheckSummary(
            app=app_name, name=app_name, status=_text(suite.get("status")),
            conclusion=_text(suite.get("conclusion")) or None, url="",
            untrusted=workflows_changed,
        ))
    return sorted(found, key=lambda c: (c.app, c.name))
