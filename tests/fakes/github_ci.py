"""What the fake GitHub adds for CI: other apps' check runs on a commit (the candidate's own CI),
and ``workflow_run`` deliveries built from the fake's runs, shaped like GitHub's.

``fake.other_checks.add(repo, sha, name, app="github-actions", ...)`` seeds a check run of
another app; the check-run and check-suite lists for a commit show it beside the app's own.
``workflow_run_event(fake, run, "completed", installation_id=1)`` is the payload GitHub would
POST to the app when a grader run finishes (sign it and deliver it like any other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import github_shapes as shapes
from .github_http import Call

if TYPE_CHECKING:
    from .github import FakeGitHub
    from .github_actions import WorkflowRun

#: (app id, slug, name) of apps the fake knows besides the app under test.
KNOWN_APPS = {
    "github-actions": (15368, "GitHub Actions"),
    "circleci-checks": (18001, "CircleCI Checks"),
}


@dataclass
class OtherApp:
    app_id: int
    slug: str
    name: str

    def json(self, urls: shapes.Urls) -> dict[str, Any]:
        body = shapes.integration(urls, app_id=self.app_id, slug=self.slug,
                                  client_id=f"Iv1.{self.slug}", owner="github")
        return {**body, "name": self.name}


@dataclass
class OtherChecks:
    """Check runs other apps made, kept apart from the app's own (``fake.check_runs``)."""

    fake: FakeGitHub
    runs: list[dict[str, Any]] = field(default_factory=list)
    suites: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(
        self, full_name: str, sha: str, name: str, *, app: str = "github-actions",
        status: str = "completed", conclusion: str | None = "success",
    ) -> dict[str, Any]:
        """A check run of ``app`` (a slug from KNOWN_APPS) on ``sha``; one suite per app."""
        repo = self.fake.repos[full_name.lower()]
        app_id, app_name = KNOWN_APPS[app]
        suite = self.suites.setdefault((repo.full_name, sha, app), self.fake.next_id())
        stamp = self.fake.stamp()
        run: dict[str, Any] = {
            "id": self.fake.next_id(), "repository": repo.full_name, "name": name,
            "head_sha": sha, "status": status, "conclusion": conclusion,
            "external_id": None, "details_url": f"https://ci.example/{app}/{name}",
            "started_at": stamp, "completed_at": stamp if status == "completed" else None,
            "output": {"title": None, "summary": None, "text": None}, "annotations": [],
            "actions": [], "updates": [], "check_suite_id": suite,
            "app": OtherApp(app_id, app, app_name),
        }
        self.runs.append(run)
        return run

    def at(self, full_name: str, sha: str) -> list[dict[str, Any]]:
        name = full_name.lower()
        return [r for r in self.runs if r["repository"].lower() == name and r["head_sha"] == sha]

    def suites_at(self, full_name: str, sha: str) -> list[tuple[OtherApp, int, list[Any]]]:
        """(app, suite id, its runs) for every other app's suite on ``sha``."""
        found = []
        for (repo, head, _), suite in self.suites.items():
            if repo.lower() == full_name.lower() and head == sha:
                runs = [r for r in self.runs if r["check_suite_id"] == suite]
                found.append((runs[0]["app"], suite, runs))
        return found


def app_of(run: dict[str, Any], urls: shapes.Urls) -> dict[str, Any] | None:
    """The ``app`` of a check run another app made (None: the app under test made it)."""
    other = run.get("app")
    return other.json(urls) if isinstance(other, OtherApp) else None


def workflow_run_event(
    fake: FakeGitHub, run: WorkflowRun, action: str = "completed", *,
    installation_id: int | None = 1,
) -> dict[str, Any]:
    """The ``workflow_run`` delivery for ``run`` (GitHub sends one per action: requested,
    in_progress, completed); without ``installation_id`` like the published examples."""
    from .github_actions import run_json

    urls = shapes.Urls(fake.base_url, fake.html_url)
    call = Call("GET", "", "", {"exclude_pull_requests": "true"}, {}, None, urls)
    body = run_json(fake, call, run)
    for key in ("referenced_workflows", "head_repository_id"):  # REST only
        body.pop(key, None)
    for key in ("repository", "head_repository"):
        body[key] = _repository_lite(body[key])
    repo = fake.repos[run.repository.lower()]
    flow = fake.actions.workflows[run.workflow_id]
    api = f"{urls.api}/repos/{repo.full_name}/actions/workflows/{flow.id}"
    payload: dict[str, Any] = {
        "action": action,
        "workflow_run": body,
        "workflow": {
            "badge_url": f"{urls.html}/{repo.full_name}/workflows/{flow.name}/badge.svg",
            "created_at": shapes.EPOCH, "html_url": f"{urls.html}/{repo.full_name}/blob/"
            f"{repo.default_branch}/{flow.path}", "id": flow.id, "name": flow.name,
            "node_id": shapes.node_id("Workflow", flow.id), "path": flow.path,
            "state": "active", "updated_at": shapes.EPOCH, "url": api,
        },
        "repository": {**repo.json(urls, full=False), "custom_properties": {}},
        "sender": shapes.user(urls, "relo-review[bot]", "Bot"),
    }
    if installation_id is not None:
        payload["installation"] = {
            "id": installation_id, "node_id": shapes.node_id("Installation", installation_id)}
    return _without_view_type(payload)


_NOT_LITE = {"clone_url", "git_url", "ssh_url", "svn_url", "mirror_url"}
_LITE = {"id", "node_id", "name", "full_name", "owner", "private", "description", "fork"}


def _repository_lite(repo: dict[str, Any]) -> dict[str, Any]:
    """A webhook's ``repository-lite``: identity and API links, none of the settings."""
    return {k: v for k, v in repo.items()
            if k in _LITE or (k.endswith("_url") and k not in _NOT_LITE) or k == "url"}


def _without_view_type(data: Any) -> Any:
    """Webhook users lack the REST ``user_view_type``."""
    if isinstance(data, dict):
        return {k: _without_view_type(v) for k, v in data.items() if k != "user_view_type"}
    if isinstance(data, list):
        return [_without_view_type(v) for v in data]
    return data
