"""Jobs are plain values: ids, names and SHAs, never tokens or clients, so any worker on any
machine can run them and they serialise to the ledger and to Redis unchanged.

One type per kind of work, so that what a kind lacks cannot be read by mistake:
- `PullRequestJob`: a PR's head against its base (`base_sha` None: read it from the PR, as for a
  re-run of a fork's PR, whose check-run payload carries no pull request);
- `PushJob`: a branch's head against the assignment's baseline;
- `CommandJob`: a `/review` comment, a PR job once its author is known to be a reviewer;
- `RerunJob`: a re-requested check suite that names no PR and no branch (a fork's): the worker
  finds which submission the commit belongs to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class JobBase:
    installation_id: int
    repo: str  # owner/name
    head_sha: str
    delivery_id: str
    event: str
    received_at: str  # ISO-8601 UTC, when GitHub delivered it (deadlines use this)
    sender: str | None = None
    fresh: bool = False  # a reviewer asked for a new review: do not reuse stored results

    kind = "base"

    @property
    def subject(self) -> str:
        """What supersedes what: reviews of one PR (or one branch) never run side by side."""
        return f"{self.repo}@{self.head_sha}"

    @property
    def external_id(self) -> str:
        """Stored on the check run, so a re-run or a restart finds what this review was."""
        return f"relo:sha:{self.head_sha}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestJob(JobBase):
    number: int
    base_sha: str | None = None
    ref: str | None = None  # the head branch
    head_repo: str | None = None  # a fork's owner/name
    author: str | None = None  # the PR's author: never a reviewer of it
    title: str | None = None  # PR title and body as delivered (None: fetch them)
    body: str | None = None

    kind = "pull_request"

    @property
    def subject(self) -> str:
        return f"{self.repo}#{self.number}"

    @property
    def external_id(self) -> str:
        return f"relo:pr:{self.number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PushJob(JobBase):
    ref: str | None = None  # the branch
    forced: bool = False  # the push rewrote history (the push event's `forced`)
    before: str | None = None  # the head it replaced

    kind = "push"

    @property
    def subject(self) -> str:
        return f"{self.repo}@{self.ref or self.head_sha}"

    @property
    def external_id(self) -> str:
        return f"relo:push:{self.ref or ''}"[:100]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandJob(JobBase):
    """`head_sha` is empty until the command's author is allowed and the PR is read."""

    number: int
    comment_id: int

    kind = "command"

    @property
    def subject(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RerunJob(JobBase):
    kind = "rerun"


ReviewJob = PullRequestJob | PushJob | CommandJob | RerunJob
ResolvedJob = PullRequestJob | PushJob

_KINDS: dict[str, type[JobBase]] = {
    cls.kind: cls for cls in (PullRequestJob, PushJob, CommandJob, RerunJob)
}


def job_from_dict(data: dict[str, Any]) -> ReviewJob:
    """A job from the ledger; rows written before typed jobs carry `kind` and optional fields."""
    kind = data.get("kind")
    if kind == "pull_request" and data.get("comment_id") is not None:
        kind = "command"
    cls = _KINDS.get(str(kind), PushJob)
    known = {f.name for f in fields(cls)}
    job = cls(**{k: v for k, v in data.items() if k in known})
    assert isinstance(job, PullRequestJob | PushJob | CommandJob | RerunJob)
    return job
