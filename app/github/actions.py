"""The organisation's grader workflow on GitHub Actions: start it, find its run, read its report.

The app never runs candidate code itself: it dispatches `workflow_dispatch` in a private
repository of the organisation (deploy/grade.yml) with the submission's repository, commit, a
correlation id and a short-lived read-only token, and later downloads the JUnit artifact.

- A run is recognised by its correlation id, which the grader puts in its `run-name`
  (`grade <correlation>`): neither the REST run nor the `workflow_run` webhook carries inputs.
- A dispatch is a POST GitHub may have applied when its answer is lost; sending it again would
  start a second run, so after an ambiguous answer we look for the run by correlation id first.
- The token handed to the grader reads one repository, expires within the hour and is revoked by
  the workflow before any candidate code runs (see README, "Hidden tests").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from gidgethub import BadRequest

from app.github.api import GitHubClient, create_once
from app.github.auth import parse_expiry
from app.review.tests_config import GraderWorkflow

RUN_NAME_PREFIX = "grade"  # deploy/grade.yml: `run-name: grade ${{ inputs.correlation }}`
CORRELATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,99}")
INPUT_NAMES = ("repository", "sha", "correlation", "token")
MAX_INPUTS = 25  # GitHub refuses more inputs than this
MAX_RUN_PAGES = 10  # the run list is newest first; a fresh run is on the first page
LOOKBACK = timedelta(minutes=5)  # our clock and GitHub's may disagree a little


class ActionsError(Exception):
    """The grader workflow could not be used; the message is a sentence for the check run."""


class GraderUnreachable(ActionsError):
    """The app may not start (or see) the workflow in the grader repository."""


class GraderRejected(ActionsError):
    """GitHub refused the dispatch: no such ref, no `workflow_dispatch`, unexpected inputs."""


class RunNotFound(ActionsError):
    """The grader run is gone (deleted) or was never visible to this installation."""


class ArtifactTooLarge(ActionsError):
    """The report artifact is over the size we read."""


class CandidateUnreadable(ActionsError):
    """No token could be made for the grader to read the candidate's repository."""


@dataclass(frozen=True, slots=True)
class WorkflowRun:
    id: int
    repo: str
    name: str  # the run's display title: `grade <correlation>` for a grader run
    status: str  # queued, in_progress, completed (waiting, requested, pending: Actions only)
    conclusion: str | None  # set once completed: success, failure, cancelled, timed_out...
    created_at: str
    updated_at: str
    html_url: str
    run_attempt: int = 1

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def correlation(self) -> str | None:
        return correlation_in(self.name)


@dataclass(frozen=True, slots=True)
class GraderToken:
    """An installation token limited to one repository and `contents: read`."""

    token: str
    expires_at: float  # epoch seconds
    repository: str

    def __repr__(self) -> str:  # never print the token itself
        return f"GraderToken(repository={self.repository!r}, expires_at={self.expires_at})"


def new_correlation() -> str:
    """A correlation id nobody can guess (a candidate must not be able to name a run ours)."""
    return "relo-" + secrets.token_hex(10)


def run_name(correlation: str) -> str:
    return f"{RUN_NAME_PREFIX} {correlation}"


def correlation_in(title: str | None) -> str | None:
    """The correlation id of a grader run's title (`grade <id>`), or None for other runs."""
    if not isinstance(title, str):
        return None
    words = title.split(" ")
    if len(words) == 2 and words[0] == RUN_NAME_PREFIX and CORRELATION.fullmatch(words[1]):
        return words[1]
    return None


def grader_inputs(*, repository: str, sha: str, correlation: str, token: str) -> dict[str, str]:
    """The inputs deploy/grade.yml declares, by name."""
    return {"repository": repository, "sha": sha, "correlation": correlation, "token": token}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _run(repo: str, data: Mapping[str, Any]) -> WorkflowRun:
    try:
        return WorkflowRun(
            id=int(data["id"]),
            repo=repo,
            name=str(data.get("display_title") or data.get("name") or ""),
            status=str(data["status"]),
            conclusion=data.get("conclusion") if isinstance(data.get("conclusion"), str) else None,
            created_at=str(data.get("created_at") or ""),
            updated_at=str(data.get("updated_at") or ""),
            html_url=str(data.get("html_url") or ""),
            run_attempt=int(data.get("run_attempt") or 1),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ActionsError(f"GitHub described a workflow run in {repo} without an id "
                           "or a status.") from exc


def _is_limit(exc: BadRequest) -> bool:
    return "rate limit" in str(exc).lower()


def _unreachable(workflow: GraderWorkflow) -> GraderUnreachable:
    return GraderUnreachable(
        f"The app cannot start the grader workflow {workflow.file} in {workflow.repo}: grant it "
        f"Actions: write there and install it on that repository."
    )


async def dispatch(
    gh: GitHubClient, workflow: GraderWorkflow, *, inputs: Mapping[str, str]
) -> int | None:
    """Start the grader run; its id when GitHub says it (`return_run_details`), else None (the
    `workflow_run` webhook or `find_run` names it later). `inputs` must hold `correlation`."""
    correlation = inputs.get("correlation", "")
    if not CORRELATION.fullmatch(correlation):
        raise ValueError(f"inputs need a correlation id matching {CORRELATION.pattern}")
    if len(inputs) > MAX_INPUTS or not all(isinstance(v, str) for v in inputs.values()):
        raise ValueError(f"a dispatch takes at most {MAX_INPUTS} string inputs")
    url = f"/repos/{workflow.repo}/actions/workflows/{quote(workflow.file)}/dispatches"
    body = {"ref": workflow.ref, "inputs": dict(inputs), "return_run_details": True}
    since = _iso(datetime.now(UTC) - LOOKBACK)

    async def create() -> tuple[int | None]:
        try:
            answer = await gh.post(url, data=body)
        except BadRequest as exc:
            status = int(exc.status_code)
            if status in (403, 404) and not _is_limit(exc):
                raise _unreachable(workflow) from exc
            if status == 422:
                raise GraderRejected(
                    f"GitHub refused to start {workflow.file} in {workflow.repo} at "
                    f"{workflow.ref!r}: {exc}. Check that the ref exists and that the workflow "
                    f"runs on workflow_dispatch with the inputs {', '.join(INPUT_NAMES)}."
                ) from exc
            raise
        run_id = answer.get("workflow_run_id") if isinstance(answer, Mapping) else None
        return (int(run_id) if isinstance(run_id, int) else None,)

    async def find() -> tuple[int | None] | None:
        run = await find_run(gh, workflow, correlation, created_after=since)
        return (run.id,) if run is not None else None

    (run_id,) = await create_once(gh, create, find)
    return run_id


async def find_run(
    gh: GitHubClient, workflow: GraderWorkflow, correlation: str, *, created_after: str
) -> WorkflowRun | None:
    """The dispatched run whose title carries `correlation`, created at or after
    `created_after` (ISO 8601); None when GitHub lists none (yet).

    The list is newest first, so we stop at the first older run. (GitHub documents `created` as
    a search range such as `>=2026-01-01T00:00:00Z`, but its OpenAPI description says a plain
    date-time, so the range is applied here rather than sent.)"""
    since = _parse_time(created_after)
    query = urlencode({"event": "workflow_dispatch", "per_page": "100",
                       "exclude_pull_requests": "true"})
    url = f"/repos/{workflow.repo}/actions/workflows/{quote(workflow.file)}/runs?{query}"
    seen = 0
    try:
        async for item in gh.getiter(url, iterable_key="workflow_runs"):
            seen += 1
            if not isinstance(item, Mapping) or item.get("event") != "workflow_dispatch":
                continue
            created = _parse_time(item.get("created_at"))
            if since is not None and created is not None and created < since:
                break
            if correlation_in(item.get("display_title")) == correlation:
                return _run(workflow.repo, item)
            if seen >= MAX_RUN_PAGES * 100:
                break
    except BadRequest as exc:
        if int(exc.status_code) in (403, 404) and not _is_limit(exc):
            raise _unreachable(workflow) from exc
        raise
    return None


async def get_run(gh: GitHubClient, repo: str, run_id: int) -> WorkflowRun:
    """The run as GitHub sees it now (the poll when no webhook came)."""
    try:
        data = await gh.getitem(f"/repos/{repo}/actions/runs/{run_id}?exclude_pull_requests=true")
    except BadRequest as exc:
        if int(exc.status_code) in (403, 404, 410) and not _is_limit(exc):
            raise RunNotFound(f"The grader run {run_id} in {repo} is not visible to the app "
                              "(deleted, or the app lost Actions: read there).") from exc
        raise
    return _run(repo, data)


class _CappedBuffer:
    """A download sink that refuses to hold more than `limit` bytes."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit, self.what = limit, what
        self.data = bytearray()

    async def write(self, chunk: bytes) -> None:
        if len(self.data) + len(chunk) > self.limit:
            raise ArtifactTooLarge(f"{self.what} is larger than {self.limit:,} bytes; "
                                   "it was not read.")
        self.data.extend(chunk)

    async def reset(self) -> None:
        self.data.clear()


async def download_artifact(
    gh: GitHubClient, repo: str, run_id: int, name: str, *, max_bytes: int
) -> bytes | None:
    """The zip GitHub stores for artifact `name` of run `run_id`; None when the run has no such
    artifact or it expired. Over `max_bytes` raises ArtifactTooLarge before reading it all."""
    query = urlencode({"name": name, "per_page": "100"})
    found: dict[str, Any] | None = None
    async for item in gh.getiter(f"/repos/{repo}/actions/runs/{run_id}/artifacts?{query}",
                                 iterable_key="artifacts"):
        if isinstance(item, Mapping) and item.get("name") == name and not item.get("expired"):
            found = dict(item)
            break
    if found is None:
        return None
    what = f"The artifact {name!r} of grader run {run_id}"
    size = found.get("size_in_bytes")
    if isinstance(size, int) and size > max_bytes:
        raise ArtifactTooLarge(f"{what} is {size:,} bytes, over the {max_bytes:,} we read.")
    try:
        # The zip is a signed link elsewhere, valid for a minute; it gets no token of ours.
        location = await gh.redirect_location(
            f"/repos/{repo}/actions/artifacts/{int(found['id'])}/zip")
    except BadRequest as exc:
        if int(exc.status_code) in (404, 410):
            return None
        raise
    sink = _CappedBuffer(max_bytes, what)
    await gh.download(location, sink)
    return bytes(sink.data)


async def grader_token(
    gh: GitHubClient, installation_id: int, repository: str, *, app_jwt: str
) -> GraderToken:
    """A token for the grader to check out `repository` (owner/name) at the submission's commit:
    `contents: read` on that one repository, expiring within the hour."""
    owner, _, name = repository.partition("/")
    try:
        data = await gh.post(
            "/app/installations/{installation_id}/access_tokens",
            url_vars={"installation_id": str(installation_id)},
            data={"repositories": [name], "permissions": {"contents": "read"}},
            jwt=app_jwt,
        )
    except BadRequest as exc:
        if int(exc.status_code) in (403, 404, 422) and not _is_limit(exc):
            raise CandidateUnreadable(
                f"The app cannot let the grader read {repository}: it is not installed on that "
                f"repository with Contents: read (installation {installation_id})."
            ) from exc
        raise
    try:
        return GraderToken(str(data["token"]), parse_expiry(str(data["expires_at"])),
                           f"{owner}/{name}")
    except (KeyError, TypeError, ValueError) as exc:
        raise CandidateUnreadable(
            f"GitHub answered the token request for {repository} without a usable token."
        ) from exc
