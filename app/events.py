"""Which delivery becomes which job. Pure: payload in, jobs (or a reason for none) out.

GitHub keeps adding events, actions and fields, and old payloads lack fields new ones have, so
every field read here is checked; a payload without what a handler needs is skipped with a
reason, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gidgethub import routing, sansio

from app.events_tests import GraderRunDone, SkipRun, decide_workflow_run
from app.jobs.models import CommandJob, PullRequestJob, PushJob, RerunJob, ReviewJob

ZERO_SHA = "0" * 40
PR_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})


@dataclass(frozen=True, slots=True)
class Decision:
    jobs: tuple[ReviewJob, ...] = ()
    reason: str = ""
    finished_runs: tuple[GraderRunDone, ...] = ()  # grader runs whose waiting reviews resume


class SkipDelivery(Exception):
    """The delivery asks for no work; the message says why, for the log."""


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise SkipDelivery(f"payload has no {key!r} object")
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise SkipDelivery(f"payload has no {key!r} string")
    return value


MAX_ID = 2**63 - 1  # what the ledger's BIGINT columns hold
MAX_NUMBER = 2**31 - 1  # PR numbers, an INTEGER column


def _int(data: Mapping[str, Any], key: str, limit: int = MAX_ID) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= limit:
        raise SkipDelivery(f"payload has no usable integer {key!r}")
    return value


_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]{1,39}/[A-Za-z0-9_.-]{1,100}")
MAX_REF = 250


def _repo_name(data: Mapping[str, Any]) -> str:
    name = _str(data, "full_name")
    if not _REPO_NAME.fullmatch(name):
        raise SkipDelivery("repository.full_name is not an owner/name")
    return name


def _ref(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_REF and "\x00" not in value:
        return value
    return None


def _sha(data: Mapping[str, Any], key: str) -> str:
    value = _str(data, key)
    if len(value) != 40 or any(c not in "0123456789abcdef" for c in value):
        raise SkipDelivery(f"{key!r} is not a commit SHA")
    return value


MAX_TEXT = 20_000


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value[:MAX_TEXT] if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Context:
    delivery_id: str
    received_at: str
    app_id: str | None = None  # this GitHub App's id: check runs of other apps are not ours


def _login(user: Any) -> str | None:
    return _ref(user.get("login")) if isinstance(user, Mapping) else None


def _base(event: sansio.Event, ctx: Context) -> dict[str, Any]:
    data = event.data
    repo = _obj(data, "repository")
    sender = data.get("sender")
    return {
        "installation_id": _int(_obj(data, "installation"), "id"),
        "repo": _repo_name(repo),
        "delivery_id": ctx.delivery_id,
        "event": event.event,
        "received_at": ctx.received_at,
        "sender": _ref(sender.get("login")) if isinstance(sender, Mapping) else None,
    }


router = routing.Router()
Decider = Callable[[sansio.Event, Context], Awaitable[Decision]]


def route(event_type: str, **detail: str) -> Callable[[Decider], Decider]:
    """Register a decider with gidgethub's Router; its decision is collected by `decide`."""

    def wrap(decider: Decider) -> Decider:
        async def callback(event: sansio.Event, ctx: Context, out: list[Decision]) -> None:
            try:
                out.append(await decider(event, ctx))
            except SkipDelivery as exc:
                out.append(Decision(reason=str(exc)))

        router.add(callback, event_type, **detail)
        return decider

    return wrap


@route("pull_request")
async def _pull_request(event: sansio.Event, ctx: Context) -> Decision:
    action = event.data.get("action")
    if action not in PR_ACTIONS:
        return Decision(reason=f"pull_request {action!r} needs no review")
    pr = _obj(event.data, "pull_request")
    if pr.get("draft") is True:
        return Decision(reason="draft pull request: reviewed when marked ready")
    if pr.get("state") not in (None, "open"):
        return Decision(reason="pull request is not open")
    head, base = _obj(pr, "head"), _obj(pr, "base")
    head_repo = head.get("repo")
    job = PullRequestJob(
        **_base(event, ctx),
        head_sha=_sha(head, "sha"),
        base_sha=_sha(base, "sha"),
        number=_int(pr, "number", MAX_NUMBER),
        ref=_ref(head.get("ref")),
        head_repo=_ref(head_repo.get("full_name")) if isinstance(head_repo, Mapping) else None,
        author=_login(pr.get("user")),
        title=_text(pr, "title"),
        body=_text(pr, "body") or "",
    )
    return Decision(jobs=(job,))


@route("push")
async def _push(event: sansio.Event, ctx: Context) -> Decision:
    data = event.data
    ref = _str(data, "ref")
    if data.get("deleted") is True or data.get("after") == ZERO_SHA:
        return Decision(reason="push deletes a ref")
    if not ref.startswith("refs/heads/"):
        return Decision(reason="push to a tag or other non-branch ref")
    branch = ref.removeprefix("refs/heads/")
    if _ref(branch) is None:
        return Decision(reason="branch name too long")
    default = _obj(data, "repository").get("default_branch")
    if branch != default:
        return Decision(reason=f"push to {branch!r}, not the default branch")
    before = data.get("before")
    job = PushJob(
        **_base(event, ctx), head_sha=_sha(data, "after"), ref=branch,
        forced=data.get("forced") is True,
        before=before if isinstance(before, str) and _SHA.fullmatch(before) else None,
    )
    return Decision(jobs=(job,))


_SHA = re.compile(r"[0-9a-f]{40}")
_OUR_PR_RUN = re.compile(r"^relo:pr:([0-9]{1,9})$")


def _from_check(
    event: sansio.Event, ctx: Context, holder: Mapping[str, Any], branch: Any
) -> Decision:
    """A re-run of a check. A fork's PR arrives with `pull_requests: []` and no branch: our own
    check run still names its PR in its external id; a check suite names nothing, and the
    worker finds the submission the commit belongs to."""
    pulls = holder.get("pull_requests")
    head_sha = _sha(holder, "head_sha")
    base = _base(event, ctx)
    ours = _OUR_PR_RUN.match(str(holder.get("external_id") or ""))
    job: ReviewJob
    if isinstance(pulls, list) and pulls and isinstance(pulls[0], Mapping):
        pr = pulls[0]
        job = PullRequestJob(
            **base,
            head_sha=head_sha,
            number=_int(pr, "number", MAX_NUMBER),
            base_sha=_sha(_obj(pr, "base"), "sha"),
            ref=_ref(branch),
            fresh=True,
        )
    elif ours is not None:
        job = PullRequestJob(**base, head_sha=head_sha, number=int(ours[1]), fresh=True)
    elif _ref(branch) is not None:
        job = PushJob(**base, head_sha=head_sha, ref=_ref(branch), fresh=True)
    else:
        job = RerunJob(**base, head_sha=head_sha, fresh=True)
    return Decision(jobs=(job,))


@route("check_suite", action="rerequested")
async def _suite_rerequested(event: sansio.Event, ctx: Context) -> Decision:
    suite = _obj(event.data, "check_suite")
    if _another_apps(suite, ctx):
        return Decision(reason="a check suite of another app")
    return _from_check(event, ctx, suite, suite.get("head_branch"))


def _another_apps(run: Mapping[str, Any], ctx: Context) -> bool:
    app = run.get("app")
    ident = app.get("id") if isinstance(app, Mapping) else None
    return ctx.app_id is not None and ident is not None and str(ident) != ctx.app_id


@route("check_run", action="rerequested")
async def _run_rerequested(event: sansio.Event, ctx: Context) -> Decision:
    run = _obj(event.data, "check_run")
    if _another_apps(run, ctx):
        return Decision(reason="a check run of another app")
    suite = run.get("check_suite")
    branch = suite.get("head_branch") if isinstance(suite, Mapping) else None
    return _from_check(event, ctx, run, branch)


@route("check_run", action="requested_action")
async def _run_action(event: sansio.Event, ctx: Context) -> Decision:
    action = _obj(event.data, "requested_action")
    if action.get("identifier") != "rerun":
        return Decision(reason=f"check run action {action.get('identifier')!r} is not ours")
    return await _run_rerequested(event, ctx)


_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`]*`")
_COMMAND = re.compile(r"^/review(\s|$)")


def has_review_command(body: str) -> bool:
    """`/review` at the start of a line of its own, outside quotes and code blocks."""
    fenced = False
    for raw in body.splitlines():
        if _FENCE.match(raw):
            fenced = not fenced
            continue
        if fenced or raw.startswith(("    ", "\t")) or raw.lstrip().startswith(">"):
            continue
        line = _INLINE_CODE.sub("", raw).strip()
        if _COMMAND.match(line):
            return True
    return False


@route("issue_comment", action="created")
async def _comment(event: sansio.Event, ctx: Context) -> Decision:
    data = event.data
    issue = _obj(data, "issue")
    if not isinstance(issue.get("pull_request"), Mapping):
        return Decision(reason="comment on an issue, not a pull request")
    comment = _obj(data, "comment")
    author = comment.get("user")
    if isinstance(author, Mapping) and author.get("type") == "Bot":
        return Decision(reason="comment by a bot")
    if not has_review_command(_text(comment, "body")):
        return Decision(reason="comment has no /review command")
    job = CommandJob(
        **_base(event, ctx),
        head_sha="",  # the worker reads the PR's current head once the author is allowed
        number=_int(issue, "number", MAX_NUMBER),
        comment_id=_int(comment, "id"),
        fresh=True,
    )
    return Decision(jobs=(job,))


@route("workflow_run")
async def _workflow_run(event: sansio.Event, ctx: Context) -> Decision:
    done = decide_workflow_run(event.data)
    if isinstance(done, SkipRun):
        return Decision(reason=done.reason)
    return Decision(reason=f"grader run {done.run_id} completed", finished_runs=(done,))


@route("installation")
@route("installation_repositories")
async def _installation(event: sansio.Event, ctx: Context) -> Decision:
    installation = event.data.get("installation")
    ident = installation.get("id") if isinstance(installation, Mapping) else None
    return Decision(reason=f"{event.event} {event.data.get('action')!r} for installation {ident}")


async def decide(event: sansio.Event, ctx: Context) -> Decision:
    """Run the routes for this event and combine what they decided."""
    action = event.data.get("action")
    if action is not None and not isinstance(action, str):
        return Decision(reason="the payload's action is not a string")
    decisions: list[Decision] = []
    await router.dispatch(event, ctx, decisions)
    if not decisions:
        return Decision(reason=f"{event.event} {event.data.get('action')!r} is not handled")
    jobs = tuple(job for d in decisions for job in d.jobs)
    runs = tuple(run for d in decisions for run in d.finished_runs)
    reason = "; ".join(d.reason for d in decisions if d.reason)
    return Decision(jobs=jobs, reason=reason, finished_runs=runs)
