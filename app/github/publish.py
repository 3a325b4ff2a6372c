"""Posting results back: the check run (created once per head, found again by external id) and
the sticky PR comment (found by its hidden marker and edited in place)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gidgethub import BadRequest

from app.github.api import GitHubClient
from app.render import COMMENT_MARKER, CheckOutput
from app.review.models import Finding

INLINE_MARKER = "relo-review"

RERUN_ACTION = {
    "label": "Re-run review",
    "description": "Review this commit again",
    "identifier": "rerun",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def find_check_run(
    gh: GitHubClient, repo: str, head_sha: str, *, name: str, external_id: str
) -> dict[str, Any] | None:
    """A check run this app already made for this review (after a crash or a redelivery)."""
    async for run in gh.getiter(
        f"/repos/{repo}/commits/{head_sha}/check-runs?check_name={name}&filter=latest&per_page=100",
        iterable_key="check_runs",
    ):
        if run.get("external_id") == external_id:
            return dict(run)
    return None


async def start_check_run(
    gh: GitHubClient,
    repo: str,
    head_sha: str,
    *,
    name: str,
    external_id: str,
    reuse: bool = True,
) -> int:
    """The id of an in-progress check run for this review, reusing one we already created."""
    if reuse:
        existing = await find_check_run(gh, repo, head_sha, name=name, external_id=external_id)
        if existing is not None and existing.get("status") != "completed":
            return int(existing["id"])
    created = await gh.post(
        f"/repos/{repo}/check-runs",
        data={
            "name": name,
            "head_sha": head_sha,
            "status": "in_progress",
            "external_id": external_id,
            "started_at": _now(),
            "output": {"title": "Reviewing…", "summary": "The review is running."},
        },
    )
    return int(created["id"])


async def complete_check_run(
    gh: GitHubClient, repo: str, check_run_id: int, output: CheckOutput
) -> None:
    """Complete the run; annotations go 50 per request, the last request carries the conclusion."""
    batches = list(output.batches())
    url = f"/repos/{repo}/check-runs/{check_run_id}"
    out = {"title": output.title, "summary": output.summary}
    for batch in batches[:-1]:
        await gh.patch(url, data={"output": {**out, "annotations": list(batch)}})
    final: dict[str, Any] = {"title": output.title, "summary": output.summary}
    if batches[-1]:
        final["annotations"] = list(batches[-1])
    await gh.patch(
        url,
        data={
            "status": "completed",
            "conclusion": output.conclusion,
            "completed_at": _now(),
            "output": final,
            "actions": [RERUN_ACTION],
        },
    )


async def fail_check_run(
    gh: GitHubClient,
    repo: str,
    check_run_id: int,
    *,
    conclusion: str,
    title: str,
    summary: str,
) -> None:
    await gh.patch(
        f"/repos/{repo}/check-runs/{check_run_id}",
        data={
            "status": "completed",
            "conclusion": conclusion,
            "completed_at": _now(),
            "output": {"title": title, "summary": summary},
            "actions": [RERUN_ACTION],
        },
    )


async def create_completed_check_run(
    gh: GitHubClient,
    repo: str,
    head_sha: str,
    *,
    name: str,
    external_id: str,
    conclusion: str,
    title: str,
    summary: str,
) -> int:
    """A check run that is born completed, e.g. `action_required` for a broken assignment config."""
    created = await gh.post(
        f"/repos/{repo}/check-runs",
        data={
            "name": name,
            "head_sha": head_sha,
            "external_id": external_id,
            "status": "completed",
            "conclusion": conclusion,
            "completed_at": _now(),
            "output": {"title": title, "summary": summary},
        },
    )
    return int(created["id"])


async def upsert_comment(
    gh: GitHubClient, repo: str, number: int, body: str, *, known_id: int | None = None
) -> int:
    """Edit our marked comment if it exists, else create it: one summary comment per PR.

    `known_id` (remembered from the last review of this PR) saves listing the comments; if it
    was deleted meanwhile we fall back to the search."""
    if known_id is not None:
        try:
            await gh.patch(f"/repos/{repo}/issues/comments/{known_id}", data={"body": body})
            return known_id
        except BadRequest as exc:
            if int(exc.status_code) != 404:
                raise
    async for comment in gh.getiter(f"/repos/{repo}/issues/{number}/comments?per_page=100"):
        user = comment.get("user") or {}
        if COMMENT_MARKER in (comment.get("body") or "") and user.get("type") == "Bot":
            if comment.get("body") != body:
                await gh.patch(
                    f"/repos/{repo}/issues/comments/{comment['id']}", data={"body": body}
                )
            return int(comment["id"])
    created = await gh.post(f"/repos/{repo}/issues/{number}/comments", data={"body": body})
    return int(created["id"])


def _inline_body(finding: Finding) -> str:
    body = f"**{finding.title or finding.rule}** — {finding.message}"
    if finding.suggestion is not None:
        body += f"\n\n```suggestion\n{finding.suggestion}\n```"
    return body + f"\n\n<sub>{INLINE_MARKER}</sub>"


def inline_comment(finding: Finding, head_sha: str) -> dict[str, Any]:
    comment: dict[str, Any] = {
        "path": finding.path,
        "line": finding.end_line,
        "side": "RIGHT",
        "body": _inline_body(finding),
    }
    if finding.start_line < finding.end_line:
        comment["start_line"] = finding.start_line
        comment["start_side"] = "RIGHT"
    return comment


async def post_inline_comments(
    gh: GitHubClient,
    repo: str,
    number: int,
    head_sha: str,
    findings: Sequence[Finding],
    *,
    limit: int = 30,
) -> int:
    """Findings as review comments on their lines, once each. One review carries them all; if
    GitHub refuses it (422: a line it cannot place), each comment goes alone and the ones it
    refuses are dropped, so one bad line never loses the rest. Returns how many were posted."""
    existing = set()
    async for comment in gh.getiter(f"/repos/{repo}/pulls/{number}/comments?per_page=100"):
        if INLINE_MARKER in (comment.get("body") or ""):
            existing.add((comment.get("path"), comment.get("line"), comment.get("body")))
    wanted = [inline_comment(f, head_sha) for f in findings[:limit]]
    fresh = [c for c in wanted if (c["path"], c["line"], c["body"]) not in existing]
    if not fresh:
        return 0
    try:
        await gh.post(
            f"/repos/{repo}/pulls/{number}/reviews",
            data={
                "commit_id": head_sha,
                "event": "COMMENT",
                "body": f"Relo Review left {len(fresh)} comment(s) on the changed lines.",
                "comments": fresh,
            },
        )
        return len(fresh)
    except BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
    posted = 0
    for comment in fresh:
        try:
            await gh.post(
                f"/repos/{repo}/pulls/{number}/comments",
                data={**comment, "commit_id": head_sha},
            )
            posted += 1
        except BadRequest as exc:
            if int(exc.status_code) != 422:
                raise
    return posted
