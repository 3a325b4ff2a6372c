"""Reading a job's submission and its rules from GitHub: the assignment (trusted sources only),
the `/review` command's author, the change and the PR's own text."""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import quote

from app.github.api import GitHubClient
from app.github.assignments import AssignmentSource
from app.github.fetch import Fetched, compare, resolve_baseline
from app.jobs.models import ReviewJob
from app.review.assignment import DEFAULT_ASSIGNMENT, Assignment, AssignmentConfigError

log = logging.getLogger(__name__)


class ConfigProblem(Exception):
    """The organisation's assignment config cannot be used; reported as `action_required`."""


async def assignment_for(
    gh: GitHubClient, source: AssignmentSource, job: ReviewJob
) -> Assignment | None:
    """The assignment from the org's `.github` repo only; defaults when it has no config,
    None when the config exists and this repository is not an assignment."""
    owner = job.repo.split("/", 1)[0]
    try:
        org = await source.load(gh, owner)
    except AssignmentConfigError as exc:
        problems = "\n".join(f"- {p}" for p in exc.problems[:50])
        raise ConfigProblem(f"{exc}\n\n{problems}") from exc
    if org.config is None:
        return DEFAULT_ASSIGNMENT
    assignment = org.config.match(job.repo)
    if assignment is not None and assignment.brief_file:
        text = await source.brief(gh, owner, org.sha, assignment.brief_file)
        if text is None:
            raise ConfigProblem(
                f"Assignment {assignment.id!r} names brief_file {assignment.brief_file!r}, "
                f"which is not in {owner}/.github."
            )
        assignment = assignment.with_brief(text)
    return assignment


async def authorise_command(gh: GitHubClient, job: ReviewJob) -> ReviewJob | None:
    """A `/review` comment counts only from someone with write access to the repository,
    checked with GitHub (the comment's author association alone can be stale). Returns the
    job with the PR's current head, or None to ignore the command."""
    if not job.sender or job.number is None or job.comment_id is None:
        return None
    access = await gh.getitem(f"/repos/{job.repo}/collaborators/{job.sender}/permission")
    permission = access.get("permission") if isinstance(access, dict) else None
    if permission not in ("admin", "write"):
        log.info("ignored /review from %s (permission %s)", job.sender, permission)
        return None
    await gh.post(
        f"/repos/{job.repo}/issues/comments/{job.comment_id}/reactions",
        data={"content": "eyes"},
    )
    pr = await gh.getitem(f"/repos/{job.repo}/pulls/{job.number}")
    if pr.get("state") != "open":
        return None
    return replace(
        job,
        head_sha=str(pr["head"]["sha"]),
        base_sha=str(pr["base"]["sha"]),
        ref=pr["head"].get("ref"),
        title=str(pr.get("title") or ""),
        body=str(pr.get("body") or ""),
    )


async def open_pull_for(gh: GitHubClient, job: ReviewJob) -> bool:
    """A push to a branch that an open PR reviews is left to the PR's own review."""
    owner = job.repo.split("/", 1)[0]
    head = quote(f"{owner}:{job.ref}", safe=":")
    pulls = await gh.getitem(f"/repos/{job.repo}/pulls?state=open&head={head}&per_page=1")
    return bool(pulls)


async def fetch_change(gh: GitHubClient, job: ReviewJob, assignment: Assignment) -> Fetched:
    """A PR's own diff, or for a push everything since the assignment's baseline."""
    if job.kind == "pull_request" and job.base_sha:
        return await compare(gh, job.repo, job.base_sha, job.head_sha, pull_number=job.number)
    baseline = assignment.baseline
    ref = None if baseline.kind == "first-commit" else baseline.ref
    base = await resolve_baseline(gh, job.repo, job.head_sha, ref)
    return await compare(gh, job.repo, base, job.head_sha)


async def pull_text(gh: GitHubClient, job: ReviewJob) -> tuple[str, str]:
    """The PR's title and body: as delivered, or fetched when the job was not a PR event."""
    if job.number is None:
        return "", ""
    if job.title is not None:
        return job.title, job.body or ""
    pr = await gh.getitem(f"/repos/{job.repo}/pulls/{job.number}")
    return str(pr.get("title") or ""), str(pr.get("body") or "")
