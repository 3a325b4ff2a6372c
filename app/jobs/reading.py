"""Reading a job's submission and its rules from GitHub: the assignment (trusted sources only),
the `/review` command's author, the change and the PR's own text."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from app.github.api import GitHubClient
from app.github.assignments import AssignmentSource
from app.github.fetch import Fetched, compare, resolve_baseline
from app.jobs.authority import is_reviewer
from app.jobs.models import (
    CommandJob,
    PullRequestJob,
    PushJob,
    RerunJob,
    ResolvedJob,
    ReviewJob,
)
from app.ledger import Ledger
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


@dataclass(frozen=True, slots=True)
class Skip:
    """Nothing to review for this job; the reason is recorded."""

    reason: str


async def resolve(
    gh: GitHubClient, ledger: Ledger, job: ReviewJob, assignment: Assignment
) -> ResolvedJob | Skip:
    """What to review for a job: the one place that branches on the kind of job."""
    match job:
        case CommandJob():
            allowed = await authorise_command(gh, job, assignment)
            if allowed is None:
                return Skip(f"/review by {job.sender} ignored: not a reviewer, or PR closed")
            return allowed
        case RerunJob():
            return await rerun_target(gh, ledger, job)
        case PullRequestJob(base_sha=None):
            pr = await gh.getitem(f"/repos/{job.repo}/pulls/{job.number}")
            if pr.get("state") != "open":
                return Skip(f"pull request #{job.number} is not open")
            return _with_pull(job, pr, head_sha=job.head_sha)
        case PushJob():
            if await open_pull_for(gh, job):
                return Skip("an open pull request covers this branch")
            return job
        case PullRequestJob():
            return job


def _with_pull(job: PullRequestJob, pr: dict[str, Any], *, head_sha: str) -> PullRequestJob:
    head_repo = (pr["head"].get("repo") or {}).get("full_name")
    author = (pr.get("user") or {}).get("login")
    return replace(
        job,
        author=author if isinstance(author, str) else None,
        head_sha=head_sha,
        base_sha=str(pr["base"]["sha"]),
        ref=pr["head"].get("ref"),
        head_repo=head_repo if isinstance(head_repo, str) else None,
        title=str(pr.get("title") or ""),
        body=str(pr.get("body") or ""),
    )


async def rerun_target(gh: GitHubClient, ledger: Ledger, job: RerunJob) -> ResolvedJob | Skip:
    """A re-requested suite that names no PR or branch (a fork's PR): review the commit as the
    submission it was reviewed as before, else as the open PR whose head it is."""
    for earlier in await ledger.jobs_for_head(job.repo, job.head_sha):
        if isinstance(earlier, PullRequestJob | PushJob):
            return replace(earlier, fresh=True, delivery_id=job.delivery_id, sender=job.sender)
    pulls = await gh.getitem(f"/repos/{job.repo}/commits/{job.head_sha}/pulls")
    for pr in pulls if isinstance(pulls, list) else []:
        if pr.get("state") == "open" and (pr.get("head") or {}).get("sha") == job.head_sha:
            base = dict(job.to_dict(), number=int(pr["number"]))
            del base["kind"]
            return _with_pull(PullRequestJob(**base), pr, head_sha=job.head_sha)
    return Skip(f"no open pull request or reviewed branch has commit {job.head_sha[:7]}")


async def authorise_command(
    gh: GitHubClient, job: CommandJob, assignment: Assignment
) -> PullRequestJob | None:
    """A `/review` comment counts only from one of the assignment's reviewers (never the PR's
    author: write access proves nothing, candidates have it). Returns the PR's job at its
    current head, or None to ignore the command."""
    pr = await gh.getitem(f"/repos/{job.repo}/pulls/{job.number}")
    if pr.get("state") != "open":
        return None
    author = (pr.get("user") or {}).get("login")
    allowed = await is_reviewer(
        gh, assignment, org=job.repo.split("/", 1)[0], login=job.sender,
        candidates=[author] if isinstance(author, str) else [],
    )
    if not allowed:
        log.info("ignored /review from %s: not a reviewer of %s", job.sender, assignment.id)
        return None
    await gh.post(
        f"/repos/{job.repo}/issues/comments/{job.comment_id}/reactions",
        data={"content": "eyes"},
    )
    base = PullRequestJob(
        installation_id=job.installation_id, repo=job.repo, head_sha=job.head_sha,
        delivery_id=job.delivery_id, event=job.event, received_at=job.received_at,
        sender=job.sender, fresh=True, number=job.number,
    )
    return _with_pull(base, pr, head_sha=str(pr["head"]["sha"]))


async def open_pull_for(gh: GitHubClient, job: PushJob) -> bool:
    """A push to a branch that an open PR reviews is left to the PR's own review."""
    owner = job.repo.split("/", 1)[0]
    head = quote(f"{owner}:{job.ref}", safe=":")
    pulls = await gh.getitem(f"/repos/{job.repo}/pulls?state=open&head={head}&per_page=1")
    return bool(pulls)


async def fetch_change(gh: GitHubClient, job: ResolvedJob, assignment: Assignment) -> Fetched:
    """A PR's own diff, or for a push everything since the assignment's baseline."""
    if isinstance(job, PullRequestJob) and job.base_sha:
        return await compare(gh, job.repo, job.base_sha, job.head_sha, pull_number=job.number)
    baseline = assignment.baseline
    ref = None if baseline.kind == "first-commit" else baseline.ref
    base = await resolve_baseline(gh, job.repo, job.head_sha, ref)
    return await compare(gh, job.repo, base, job.head_sha)


async def pull_text(gh: GitHubClient, job: ResolvedJob) -> tuple[str, str]:
    """The PR's title and body: as delivered, or fetched when the job was not a PR event."""
    if not isinstance(job, PullRequestJob):
        return "", ""
    if job.title is not None:
        return job.title, job.body or ""
    pr = await gh.getitem(f"/repos/{job.repo}/pulls/{job.number}")
    return str(pr.get("title") or ""), str(pr.get("body") or "")
