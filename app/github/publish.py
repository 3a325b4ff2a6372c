"""Posting results back: the check run (created once per head, found again by external id) and
the sticky PR comment (found by its hidden marker and edited in place).

Creations are POSTs, which the client does not repeat when their answer is lost: each creator
passes `create_once` a lookup that recognises what it sent, so a lost answer never leaves a
second check run, comment or review behind (nor a first one `in_progress` forever)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from gidgethub import BadRequest

from app.github.api import GitHubClient, create_once
from app.render import COMMENT_MARKER, INLINE_MARKER, CheckOutput, inline_body
from app.render_text import MAX_BODY_BYTES, fit, fit_title
from app.review.models import Finding

RERUN_ACTION = {
    "label": "Re-run review",
    "description": "Review this commit again",
    "identifier": "rerun",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _output(title: str, summary: str) -> dict[str, str]:
    """A check run's title and summary within GitHub's limits as GitHub counts them (UTF-8
    bytes), whoever wrote them: a review never fails because of its own output's size."""
    return {"title": fit_title(title), "summary": fit(summary)}


async def find_check_run(
    gh: GitHubClient,
    repo: str,
    head_sha: str,
    *,
    name: str,
    external_id: str,
    also: Callable[[dict[str, Any]], bool] = lambda run: True,
) -> dict[str, Any] | None:
    """A check run this app already made for this review (after a crash, a redelivery or a
    lost answer); `also` narrows it down to the one a given request made."""
    async for run in gh.getiter(
        f"/repos/{repo}/commits/{head_sha}/check-runs?check_name={name}&filter=latest&per_page=100",
        iterable_key="check_runs",
    ):
        if run.get("external_id") == external_id and also(dict(run)):
            return dict(run)
    return None


async def _create_check_run(
    gh: GitHubClient, repo: str, head_sha: str, data: dict[str, Any], *, mark: str
) -> int:
    """POST a check run once. `mark` is a timestamp field of `data` (`started_at` or
    `completed_at`): with the external id and status it tells our run from earlier ones."""

    def ours(run: dict[str, Any]) -> bool:
        return bool(run.get(mark) == data[mark] and run.get("status") == data["status"])

    async def create() -> int:
        created = await gh.post(f"/repos/{repo}/check-runs", data=data)
        return int(created["id"])

    async def find() -> int | None:
        run = await find_check_run(
            gh, repo, head_sha, name=data["name"], external_id=data["external_id"], also=ours
        )
        return int(run["id"]) if run is not None else None

    return await create_once(gh, create, find)


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
    data = {
        "name": name,
        "head_sha": head_sha,
        "status": "in_progress",
        "external_id": external_id,
        "started_at": _now(),
        "output": {"title": "Reviewing…", "summary": "The review is running."},
    }
    return await _create_check_run(gh, repo, head_sha, data, mark="started_at")


async def complete_check_run(
    gh: GitHubClient, repo: str, check_run_id: int, output: CheckOutput
) -> None:
    """Complete the run; annotations go 50 per request, the last request carries the conclusion."""
    batches = list(output.batches())
    url = f"/repos/{repo}/check-runs/{check_run_id}"
    out = _output(output.title, output.summary)
    for batch in batches[:-1]:
        await gh.patch(url, data={"output": {**out, "annotations": list(batch)}})
    final: dict[str, Any] = dict(out)
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
            "output": _output(title, summary),
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
    data = {
        "name": name,
        "head_sha": head_sha,
        "external_id": external_id,
        "status": "completed",
        "conclusion": conclusion,
        "completed_at": _now(),
        "output": _output(title, summary),
    }
    return await _create_check_run(gh, repo, head_sha, data, mark="completed_at")


async def upsert_comment(
    gh: GitHubClient, repo: str, number: int, body: str, *, known_id: int | None = None
) -> int:
    """Edit our marked comment if it exists, else create it: one summary comment per PR.

    `known_id` (remembered from the last review of this PR) saves listing the comments; if it
    was deleted meanwhile we fall back to the search."""
    body = fit(body, MAX_BODY_BYTES)
    if known_id is not None:
        try:
            await gh.patch(f"/repos/{repo}/issues/comments/{known_id}", data={"body": body})
            return known_id
        except BadRequest as exc:
            if int(exc.status_code) != 404:
                raise
    existing = await find_marked_comment(gh, repo, number)
    if existing is not None:
        if existing.get("body") != body:
            await gh.patch(f"/repos/{repo}/issues/comments/{existing['id']}", data={"body": body})
        return int(existing["id"])
    return await create_marked_comment(gh, repo, number, body)


async def find_marked_comment(gh: GitHubClient, repo: str, number: int) -> dict[str, Any] | None:
    """Our comment on issue or PR `number`: posted by a bot, with our hidden marker."""
    async for comment in gh.getiter(f"/repos/{repo}/issues/{number}/comments?per_page=100"):
        user = comment.get("user") or {}
        if COMMENT_MARKER in (comment.get("body") or "") and user.get("type") == "Bot":
            return dict(comment)
    return None


async def create_marked_comment(gh: GitHubClient, repo: str, number: int, body: str) -> int:
    """Post `body` (which carries our marker) once, even if GitHub's answer is lost."""
    body = fit(body, MAX_BODY_BYTES)

    async def create() -> int:
        created = await gh.post(f"/repos/{repo}/issues/{number}/comments", data={"body": body})
        return int(created["id"])

    async def find() -> int | None:
        found = await find_marked_comment(gh, repo, number)
        return int(found["id"]) if found is not None else None

    return await create_once(gh, create, find)


def inline_comment(finding: Finding, head_sha: str) -> dict[str, Any]:
    comment: dict[str, Any] = {
        "path": finding.path,
        "line": finding.end_line,
        "side": "RIGHT",
        "body": inline_body(finding),
    }
    if finding.start_line < finding.end_line:
        comment["start_line"] = finding.start_line
        comment["start_side"] = "RIGHT"
    return comment


def _inline_key(comment: dict[str, Any]) -> tuple[Any, Any, Any]:
    return comment.get("path"), comment.get("line"), comment.get("body")


async def _inline_posted(gh: GitHubClient, repo: str, number: int) -> set[tuple[Any, Any, Any]]:
    """Our inline comments on the PR, by (path, line, body)."""
    return {
        _inline_key(comment)
        async for comment in gh.getiter(f"/repos/{repo}/pulls/{number}/comments?per_page=100")
        if INLINE_MARKER in (comment.get("body") or "")
    }


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
    existing = await _inline_posted(gh, repo, number)
    wanted = [inline_comment(f, head_sha) for f in findings[:limit]]
    fresh = [c for c in wanted if _inline_key(c) not in existing]
    if not fresh:
        return 0

    def posted(comments: list[dict[str, Any]]) -> Callable[[], Awaitable[bool | None]]:
        async def find() -> bool | None:
            now = await _inline_posted(gh, repo, number)
            return True if all(_inline_key(c) in now for c in comments) else None

        return find

    async def review() -> bool:
        await gh.post(
            f"/repos/{repo}/pulls/{number}/reviews",
            data={
                "commit_id": head_sha,
                "event": "COMMENT",
                "body": f"Relo Review left {len(fresh)} comment(s) on the changed lines.",
                "comments": fresh,
            },
        )
        return True

    try:
        await create_once(gh, review, posted(fresh))  # a review is all or nothing
        return len(fresh)
    except BadRequest as exc:
        if int(exc.status_code) != 422:
            raise
    count = 0
    for comment in fresh:

        async def single(comment: dict[str, Any] = comment) -> bool:
            await gh.post(
                f"/repos/{repo}/pulls/{number}/comments", data={**comment, "commit_id": head_sha}
            )
            return True

        try:
            await create_once(gh, single, posted([comment]))
            count += 1
        except BadRequest as exc:
            if int(exc.status_code) != 422:
                raise
    return count
