"""Jobs are plain values: ids, names and SHAs, never tokens or clients, so any worker on any
machine can run them and they serialise to the ledger and to Redis unchanged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class ReviewJob:
    installation_id: int
    repo: str  # owner/name
    head_sha: str
    kind: str  # "pull_request" | "push"
    delivery_id: str
    event: str
    received_at: str  # ISO-8601 UTC, when GitHub delivered it (deadlines use this)
    number: int | None = None  # PR number
    ref: str | None = None  # branch name
    base_sha: str | None = None  # PR base; None for pushes (the baseline is resolved later)
    head_repo: str | None = None  # a fork's owner/name
    sender: str | None = None
    title: str | None = None  # PR title and body as delivered (None: fetch them)
    body: str | None = None
    comment_id: int | None = None  # a `/review` command: its author's permission is checked
    fresh: bool = False  # a reviewer asked for a new review: do not reuse stored results

    @property
    def subject(self) -> str:
        """What supersedes what: reviews of one PR (or one branch) never run side by side."""
        if self.number is not None:
            return f"{self.repo}#{self.number}"
        return f"{self.repo}@{self.ref or self.head_sha}"

    @property
    def external_id(self) -> str:
        """Stored on the check run, so a re-run or a restart finds what this review was."""
        if self.number is not None:
            return f"relo:pr:{self.number}"
        return f"relo:push:{self.ref or ''}"[:100]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReviewJob:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
