"""Which `workflow_run` delivery finishes a grader run. Pure: payload in, a fact or a reason out.

GitHub sends `workflow_run` for every run in every repository the app is installed on (the
candidates' own CI included), for `requested`, `in_progress` and `completed`. Only a completed,
dispatched run whose title carries one of our correlation ids (`grade <id>`) is a grader run
finishing; the job layer then matches the repository, workflow and correlation id against the
review waiting for it, so a run elsewhere that copies the title format finds nothing to finish.

The webhook carries no workflow inputs: the correlation id comes from the run's display title.
Its `conclusion` says whether the grader ran (deploy/grade.yml succeeds when the tests ran,
whatever they found), not whether the submission passed: the JUnit artifact says that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.github.actions import correlation_in

MAX_ID = 2**63 - 1
IGNORED_ACTIONS = frozenset({"requested", "in_progress"})


@dataclass(frozen=True, slots=True)
class GraderRunDone:
    installation_id: int
    repo: str  # the grader repository (owner/name)
    workflow_path: str  # .github/workflows/grade.yml
    run_id: int
    run_attempt: int
    correlation: str
    conclusion: str | None  # success, failure, cancelled, timed_out, startup_failure...
    html_url: str


@dataclass(frozen=True, slots=True)
class SkipRun:
    reason: str


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


def _str(value: Any, limit: int = 1000) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def decide_workflow_run(payload: Mapping[str, Any]) -> GraderRunDone | SkipRun:
    """A finished grader run, or why this delivery finishes nothing."""
    action = payload.get("action")
    if action in IGNORED_ACTIONS:
        return SkipRun(f"workflow_run {action!r}: only a completed run has a report")
    if action != "completed":
        return SkipRun(f"workflow_run {action!r} is not an action we know")
    run = payload.get("workflow_run")
    if not isinstance(run, Mapping):
        return SkipRun("payload has no 'workflow_run' object")
    if run.get("event") != "workflow_dispatch":
        return SkipRun(f"run triggered by {run.get('event')!r}: grader runs are dispatched")
    correlation = correlation_in(run.get("display_title"))
    if correlation is None:
        return SkipRun("run title carries no correlation id: not a grader run of ours")
    installation = payload.get("installation")
    installation_id = _int(installation.get("id")) if isinstance(installation, Mapping) else None
    if installation_id is None:
        return SkipRun("payload has no installation: not delivered to the app")
    repository = payload.get("repository")
    repo = _str(repository.get("full_name"), 140) if isinstance(repository, Mapping) else None
    run_id = _int(run.get("id"))
    if repo is None or "/" not in repo or run_id is None:
        return SkipRun("payload has no repository name or run id")
    conclusion = run.get("conclusion")
    return GraderRunDone(
        installation_id=installation_id,
        repo=repo,
        workflow_path=(_str(run.get("path")) or "").split("@", 1)[0],  # REST adds @ref
        run_id=run_id,
        run_attempt=_int(run.get("run_attempt")) or 1,
        correlation=correlation,
        conclusion=conclusion if isinstance(conclusion, str) else None,
        html_url=_str(run.get("html_url")) or "",
    )
