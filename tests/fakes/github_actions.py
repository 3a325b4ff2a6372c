"""The fake GitHub's Actions, check-suite, branch and membership endpoints, with their state.

Tests seed the state and read back what the app did: ``fake.actions`` holds workflows, runs
(each with the ``inputs`` it was dispatched with) and artifacts; ``fake.orgs`` holds
organisation and team memberships. Answers are built to the published schemas, which the fake
checks on every response like the others.
"""

from __future__ import annotations

import collections
import io
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import github_git as gitdata
from . import github_shapes as shapes
from .github_http import DOCS, ApiError, Call, Reply, not_found, paginate, validation_failed
from .github_routes_read import REPO, app_integration

if TYPE_CHECKING:
    from .github import FakeGitHub, FakeRepo

ACTIONS_APP_ID = 15368
#: Where an artifact download redirects (no credentials; the signature expires in a minute).
ARTIFACT_PATH = "/_artifacts/{id}.zip"
_CONCLUSION_RANK = ("action_required", "cancelled", "timed_out", "failure", "neutral",
                    "success", "skipped", "stale")


def zip_of(files: dict[str, bytes | str]) -> bytes:
    """A zip archive of ``files`` (what upload-artifact stores), for seeding artifacts."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


@dataclass
class Workflow:
    repository: str
    id: int
    path: str  # .github/workflows/<file>
    name: str
    run_name: str | None  # a format string over the inputs, like a workflow's `run-name`
    inputs: tuple[str, ...] | None  # the declared inputs (None: accept any)

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class WorkflowRun:
    id: int
    repository: str
    workflow_id: int
    path: str
    name: str
    head_branch: str | None
    head_sha: str
    event: str
    display_title: str
    run_number: int
    check_suite_id: int
    created_at: str
    inputs: dict[str, Any] = field(default_factory=dict)
    status: str = "queued"
    conclusion: str | None = None
    run_attempt: int = 1
    updated_at: str = ""


@dataclass
class Artifact:
    id: int
    run_id: int
    repository: str
    name: str
    content: bytes
    created_at: str
    expired: bool = False


class Actions:
    """Workflows, their runs and artifacts, per repository."""

    def __init__(self, fake: FakeGitHub) -> None:
        self._fake = fake
        self.workflows: dict[int, Workflow] = {}
        self.runs: dict[int, WorkflowRun] = {}
        self.artifacts: dict[int, Artifact] = {}
        #: False: answer dispatches 204 whatever ``return_run_details`` says (before 2026-02-19).
        self.returns_run_details = True

    def add_workflow(
        self, full_name: str, file_name: str = "grade.yml", *, name: str = "Grade",
        run_name: str | None = None, inputs: tuple[str, ...] | None = None,
    ) -> Workflow:
        """A ``workflow_dispatch`` workflow in ``full_name`` (which must be added first)."""
        repo = self._fake.repos[full_name.lower()]
        flow = Workflow(repo.full_name, self._fake.next_id(), f".github/workflows/{file_name}",
                        name, run_name, inputs)
        self.workflows[flow.id] = flow
        return flow

    def add_run(
        self, flow: Workflow, *, ref: str = "main", event: str = "workflow_dispatch",
        inputs: dict[str, Any] | None = None,
    ) -> WorkflowRun:
        """A queued run of ``flow`` at ``ref`` (dispatches make these too)."""
        repo = self._fake.repos[flow.repository.lower()]
        sha = repo.git.resolve(ref)
        if sha is None:
            raise KeyError(ref)
        values = dict(inputs or {})
        # A missing input is an empty string in the workflow's expressions.
        title = flow.run_name.format_map(collections.defaultdict(str, values)) if (
            flow.run_name) else flow.name
        number = 1 + sum(1 for r in self.runs.values() if r.workflow_id == flow.id)
        stamp = self._fake.stamp()
        run = WorkflowRun(
            self._fake.next_id(), repo.full_name, flow.id, flow.path, flow.name,
            ref if ref != sha else None, sha, event, title, number, self._fake.next_id(),
            stamp, values, updated_at=stamp,
        )
        self.runs[run.id] = run
        return run

    def complete_run(
        self, run_id: int, conclusion: str = "success",
        artifacts: dict[str, bytes] | None = None,
    ) -> WorkflowRun:
        """Finish run ``run_id`` with ``conclusion``, uploading ``artifacts`` (name: zip)."""
        run = self.runs[run_id]
        run.status, run.conclusion, run.updated_at = "completed", conclusion, self._fake.stamp()
        for name, content in (artifacts or {}).items():
            self.add_artifact(run_id, name, content)
        return run

    def add_artifact(
        self, run_id: int, name: str, content: bytes, *, expired: bool = False
    ) -> Artifact:
        run = self.runs[run_id]
        artifact = Artifact(self._fake.next_id(), run_id, run.repository, name, content,
                            self._fake.stamp(), expired)
        self.artifacts[artifact.id] = artifact
        return artifact

    def dispatched(self, full_name: str | None = None) -> list[WorkflowRun]:
        """Runs created by a dispatch (of ``full_name`` only, if given), oldest first."""
        return [
            r for r in self.runs.values()
            if r.event == "workflow_dispatch"
            and (full_name is None or r.repository.lower() == full_name.lower())
        ]


class Orgs:
    """Organisation and team memberships (role, state) by login."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], tuple[str, str]] = {}
        self.teams: dict[tuple[str, str, str], tuple[str, str]] = {}

    def set_member(self, org: str, login: str, *, role: str = "member",
                   state: str = "active") -> None:
        """``role``: admin (an owner), member or billing_manager; ``state``: active, pending."""
        self.members[(org.lower(), login.lower())] = (role, state)

    def set_team_member(self, org: str, team_slug: str, login: str, *, role: str = "member",
                        state: str = "active") -> None:
        """``role``: member or maintainer; ``state``: active or pending."""
        self.teams[(org.lower(), team_slug.lower(), login.lower())] = (role, state)


# -- shapes -----------------------------------------------------------------------------------


def _simple_commit(repo: FakeRepo, sha: str) -> dict[str, Any]:
    info = gitdata.commit(repo.git, sha)
    return {
        "id": sha, "tree_id": info.tree, "message": info.message,
        "timestamp": shapes.git_iso(info.author_date),
        "author": {"name": info.author_name, "email": info.author_email},
        "committer": {"name": info.committer_name, "email": info.committer_email},
    }


def _pulls_at(fake: FakeGitHub, call: Call, repo: FakeRepo, sha: str) -> list[dict[str, Any]]:
    """``pull-request-minimal`` for the repo's open PRs whose head is ``sha``."""
    found = []
    for (name, _), pr in fake.pulls.items():
        if name != repo.full_name or pr.state != "open":
            continue
        base, head = fake.pull_shas(pr)
        if head == sha:
            short = name.split("/")[1]
            ref = {"id": repo.id, "url": f"{call.urls.api}/repos/{name}", "name": short}
            found.append({
                "id": pr.id, "number": pr.number,
                "url": f"{call.urls.api}/repos/{name}/pulls/{pr.number}",
                "head": {"ref": pr.head_ref, "sha": head, "repo": ref},
                "base": {"ref": pr.base_ref, "sha": base, "repo": ref},
            })
    return found


def run_json(fake: FakeGitHub, call: Call, run: WorkflowRun) -> dict[str, Any]:
    repo = fake.repos[run.repository.lower()]
    api = f"{call.urls.api}/repos/{repo.full_name}/actions/runs/{run.id}"
    pulls = [] if call.query.get("exclude_pull_requests") == "true" else _pulls_at(
        fake, call, repo, run.head_sha)
    actor = shapes.bot(call.urls)
    return {
        "id": run.id, "name": run.name, "node_id": shapes.node_id("WorkflowRun", run.id),
        "check_suite_id": run.check_suite_id,
        "check_suite_node_id": shapes.node_id("CheckSuite", run.check_suite_id),
        "head_branch": run.head_branch, "head_sha": run.head_sha,
        "path": f"{run.path}@{run.head_branch or run.head_sha}", "run_number": run.run_number,
        "run_attempt": run.run_attempt, "referenced_workflows": [], "event": run.event,
        "status": run.status, "conclusion": run.conclusion, "workflow_id": run.workflow_id,
        "url": api, "html_url": f"{call.urls.html}/{repo.full_name}/actions/runs/{run.id}",
        "pull_requests": pulls, "created_at": run.created_at, "updated_at": run.updated_at,
        "actor": actor, "triggering_actor": actor, "run_started_at": run.created_at,
        "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs",
        "check_suite_url": f"{call.urls.api}/repos/{repo.full_name}/check-suites/"
                           f"{run.check_suite_id}",
        "artifacts_url": f"{api}/artifacts", "cancel_url": f"{api}/cancel",
        "rerun_url": f"{api}/rerun", "previous_attempt_url": None,
        "workflow_url": f"{call.urls.api}/repos/{repo.full_name}/actions/workflows/"
                        f"{run.workflow_id}",
        "head_commit": _simple_commit(repo, run.head_sha),
        "repository": repo.json(call.urls), "head_repository": repo.json(call.urls),
        "head_repository_id": repo.id, "display_title": run.display_title,
    }


def artifact_json(fake: FakeGitHub, call: Call, a: Artifact) -> dict[str, Any]:
    repo, run = fake.repos[a.repository.lower()], fake.actions.runs[a.run_id]
    api = f"{call.urls.api}/repos/{repo.full_name}/actions/artifacts/{a.id}"
    created = a.created_at
    expires = fake.now() + (timedelta(days=-1) if a.expired else timedelta(days=90))
    return {
        "id": a.id, "node_id": shapes.node_id("Artifact", a.id), "name": a.name,
        "size_in_bytes": len(a.content), "url": api, "archive_download_url": f"{api}/zip",
        "expired": a.expired, "created_at": created, "expires_at": shapes.iso(expires),
        "updated_at": created, "digest": None,
        "workflow_run": {"id": run.id, "repository_id": repo.id, "head_repository_id": repo.id,
                         "head_branch": run.head_branch or "", "head_sha": run.head_sha},
    }


def _organization(call: Call, org: str) -> dict[str, Any]:
    api = f"{call.urls.api}/orgs/{org}"
    org_id = shapes.stable_id(org)
    return {
        "login": org, "id": org_id, "node_id": shapes.node_id("Organization", org_id),
        "url": api, "repos_url": f"{api}/repos", "events_url": f"{api}/events",
        "hooks_url": f"{api}/hooks", "issues_url": f"{api}/issues",
        "members_url": f"{api}/members{{/member}}",
        "public_members_url": f"{api}/public_members{{/member}}",
        "avatar_url": f"https://avatars.github.test/u/{org_id}?v=4", "description": None,
    }


# -- handlers ---------------------------------------------------------------------------------


def _workflow(fake: FakeGitHub, call: Call) -> tuple[FakeRepo, Workflow]:
    repo, wanted = fake.repo(call), call.params["workflow_id"]
    for flow in fake.actions.workflows.values():
        if flow.repository == repo.full_name and wanted in (str(flow.id), flow.file_name):
            return repo, flow
    raise not_found()


def dispatch(fake: FakeGitHub, call: Call) -> Reply:
    repo, flow = _workflow(fake, call)
    body = call.body()
    inputs = dict(body.get("inputs") or {})
    if flow.inputs is not None and (unexpected := sorted(set(inputs) - set(flow.inputs))):
        raise validation_failed(f"Unexpected inputs provided: {unexpected}")
    if repo.git.resolve(body["ref"]) is None:
        raise validation_failed(f"No ref found for: {body['ref']}")
    run = fake.actions.add_run(flow, ref=body["ref"], inputs=inputs)
    if not body.get("return_run_details") or not fake.actions.returns_run_details:
        return Reply(204)
    api = f"{call.urls.api}/repos/{repo.full_name}/actions/runs/{run.id}"
    html = f"{call.urls.html}/{repo.full_name}/actions/runs/{run.id}"
    return Reply(200, {"workflow_run_id": run.id, "run_url": api, "html_url": html})


def list_runs(fake: FakeGitHub, call: Call) -> Reply:
    _, flow = _workflow(fake, call)
    q = call.query

    def wanted(run: WorkflowRun) -> bool:
        status = q.get("status")
        return (
            run.workflow_id == flow.id
            and q.get("event") in (None, run.event)
            and q.get("branch") in (None, run.head_branch)
            and q.get("head_sha") in (None, run.head_sha)
            and q.get("check_suite_id") in (None, str(run.check_suite_id))
            and status in (None, run.status, run.conclusion)
        )

    runs = sorted((r for r in fake.actions.runs.values() if wanted(r)), key=lambda r: -r.id)
    page, link = paginate(call, runs)
    body = {"total_count": len(runs), "workflow_runs": [run_json(fake, call, r) for r in page]}
    return Reply(200, body, headers=link)


def _run(fake: FakeGitHub, call: Call) -> WorkflowRun:
    repo = fake.repo(call)
    run = fake.actions.runs.get(int(call.params["run_id"]))
    if run is None or run.repository != repo.full_name:
        raise not_found()
    return run


def get_run(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, run_json(fake, call, _run(fake, call)))


def list_artifacts(fake: FakeGitHub, call: Call) -> Reply:
    run = _run(fake, call)
    found = [a for a in fake.actions.artifacts.values()
             if a.run_id == run.id and call.query.get("name") in (None, a.name)]
    found.sort(key=lambda a: a.id, reverse=call.query.get("direction", "desc") == "desc")
    page, link = paginate(call, found)
    body = {"total_count": len(found), "artifacts": [artifact_json(fake, call, a) for a in page]}
    return Reply(200, body, headers=link)


def download_artifact(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    artifact = fake.actions.artifacts.get(int(call.params["artifact_id"]))
    if artifact is None or artifact.repository != repo.full_name:
        raise not_found()
    if call.params["archive_format"] != "zip":
        raise not_found()
    if artifact.expired:
        raise ApiError(410, {"message": "Artifact has expired", "documentation_url": DOCS,
                             "status": "410"})
    expires = int((fake.now() + timedelta(minutes=1)).timestamp())
    path = ARTIFACT_PATH.format(id=artifact.id)
    return Reply(302, headers={
        "location": f"{call.urls.api}{path}?urlExpires={expires}&urlSigningMethod=HMACV2"
                    f"&urlSignature=fake"})


def serve_artifact(fake: FakeGitHub, artifact_id: int, query: dict[str, str]) -> Reply:
    """The signed link a download redirects to: no auth, dead a minute after it was issued."""
    artifact = fake.actions.artifacts.get(artifact_id)
    if artifact is None:
        return Reply(404, content=b"Not Found", media_type="text/plain")
    if int(query.get("urlExpires", "0")) < fake.now().timestamp():
        return Reply(403, content=b"AuthenticationFailed: the URL expired",
                     media_type="text/plain")
    return Reply(200, content=artifact.content, media_type="application/zip")


def _suite_json(
    fake: FakeGitHub, call: Call, repo: FakeRepo, suite_id: int, sha: str,
    runs: list[dict[str, Any]], app: dict[str, Any] | None,
) -> dict[str, Any]:
    statuses = {r["status"] for r in runs}
    status = "completed" if statuses <= {"completed"} else (
        "in_progress" if "in_progress" in statuses else "queued")
    conclusions = {r["conclusion"] for r in runs}
    conclusion = next((c for c in _CONCLUSION_RANK if c in conclusions), None) if (
        status == "completed" and runs) else None
    branches = repo.git.git("for-each-ref", "--points-at", sha, "--format=%(refname:short)",
                            "refs/heads").split()
    api = f"{call.urls.api}/repos/{repo.full_name}/check-suites/{suite_id}"
    return {
        "id": suite_id, "node_id": shapes.node_id("CheckSuite", suite_id),
        "head_branch": branches[0] if branches else None, "head_sha": sha, "status": status,
        "conclusion": conclusion, "url": api, "before": None, "after": sha,
        "pull_requests": _pulls_at(fake, call, repo, sha), "app": app,
        "repository": repo.json(call.urls), "created_at": shapes.EPOCH,
        "updated_at": fake.stamp(), "head_commit": _simple_commit(repo, sha),
        "latest_check_runs_count": len(runs), "check_runs_url": f"{api}/check-runs",
        "rerequestable": True, "runs_rerequestable": True,
    }


def suites_for_ref(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    sha = repo.git.resolve(call.params["ref"])
    if sha is None:
        raise validation_failed(f"No commit found for SHA: {call.params['ref']}")
    ours = app_integration(fake, call)
    actions = {**shapes.integration(call.urls, app_id=ACTIONS_APP_ID, slug="github-actions",
                                    client_id="Iv1.actions", owner="github"),
               "name": "GitHub Actions"}
    suites: list[tuple[int, dict[str, Any]]] = []
    for (name, head), suite_id in fake.check_suites.items():
        if name == repo.full_name and head == sha:
            runs = [r for r in fake.runs_for(name, sha) if r["check_suite_id"] == suite_id]
            if call.query.get("check_name") in (None, *(r["name"] for r in runs)):
                suites.append((ours["id"], _suite_json(fake, call, repo, suite_id, sha, runs,
                                                       ours)))
    for run in fake.actions.runs.values():
        if run.repository == repo.full_name and run.head_sha == sha:
            as_check = [{"status": run.status, "conclusion": run.conclusion}]
            suites.append((ACTIONS_APP_ID, _suite_json(fake, call, repo, run.check_suite_id,
                                                       sha, as_check, actions)))
    for other, suite_id, runs in fake.other_checks.suites_at(repo.full_name, sha):
        suites.append((other.app_id, _suite_json(fake, call, repo, suite_id, sha, runs,
                                                 other.json(call.urls))))
    app_id = call.query.get("app_id")
    chosen = [s for owner, s in suites if app_id in (None, str(owner))]
    page, link = paginate(call, chosen)
    return Reply(200, {"total_count": len(chosen), "check_suites": page}, headers=link)


def get_branch(fake: FakeGitHub, call: Call) -> Reply:
    repo, branch = fake.repo(call), call.params["branch"]
    if not repo.git.has_branch(branch):
        raise ApiError(404, {"message": "Branch not found", "documentation_url": DOCS,
                             "status": "404"})
    sha = repo.git.rev(f"refs/heads/{branch}")
    api = f"{call.urls.api}/repos/{repo.full_name}/branches/{branch}"
    commit = shapes.commit(call.urls, repo.full_name, gitdata.commit(repo.git, sha))
    return Reply(200, {
        "name": branch, "commit": commit, "protected": False,
        "_links": {"self": api, "html": f"{call.urls.html}/{repo.full_name}/tree/{branch}"},
        "protection": {"enabled": False, "required_status_checks": {
            "enforcement_level": "off", "contexts": [], "checks": []}},
        "protection_url": f"{api}/protection",
    })


def _installed_on(fake: FakeGitHub, call: Call, org: str) -> bool:
    inst = fake.installations.get(call.installation_id or 0)
    return inst is not None and inst.account.lower() == org.lower()


def org_membership(fake: FakeGitHub, call: Call) -> Reply:
    org, login = call.params["org"], call.params["username"]
    if not _installed_on(fake, call, org):
        raise ApiError(403, {"message": "Resource not accessible by integration",
                             "documentation_url": DOCS, "status": "403"})
    found = fake.orgs.members.get((org.lower(), login.lower()))
    if found is None:
        raise not_found()
    role, state = found
    api = f"{call.urls.api}/orgs/{org}"
    return Reply(200, {
        "url": f"{api}/memberships/{login}", "state": state, "role": role,
        "direct_membership": True, "organization_url": api,
        "organization": _organization(call, org), "user": shapes.user(call.urls, login),
    })


def team_membership(fake: FakeGitHub, call: Call) -> Reply:
    org, team, login = (call.params[k] for k in ("org", "team_slug", "username"))
    found = fake.orgs.teams.get((org.lower(), team.lower(), login.lower()))
    if found is None or not _installed_on(fake, call, org):
        raise not_found()
    role, state = found
    url = f"{call.urls.api}/organizations/{shapes.stable_id(org)}/team/" \
          f"{shapes.stable_id(org + '/' + team)}/memberships/{login}"
    return Reply(200, {"url": url, "role": role, "state": state})


ROUTES = [
    ("POST", REPO + "/actions/workflows/{workflow_id}/dispatches", dispatch),
    ("GET", REPO + "/actions/workflows/{workflow_id}/runs", list_runs),
    ("GET", REPO + "/actions/runs/{run_id}", get_run),
    ("GET", REPO + "/actions/runs/{run_id}/artifacts", list_artifacts),
    ("GET", REPO + "/actions/artifacts/{artifact_id}/{archive_format}", download_artifact),
    ("GET", REPO + "/commits/{ref}/check-suites", suites_for_ref),
    ("GET", REPO + "/branches/{branch}", get_branch),
    ("GET", "/orgs/{org}/memberships/{username}", org_membership),
    ("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}", team_membership),
]
