"""Endpoints of the fake GitHub that change state: tokens, check runs, comments, reviews.

Each stores a plain record on the fake (``check_runs``, ``comments``, ``reviews``...) for tests
to assert on, and answers with JSON built from that record.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import github_ci
from . import github_git as gitdata
from . import github_shapes as shapes
from .github_http import (
    Call,
    Reply,
    not_found,
    paginate,
    unprocessable,
    validation_failed,
)
from .github_routes_read import REPO, app_integration

if TYPE_CHECKING:
    from .github import FakeGitHub, FakePull, FakeRepo


def _bot() -> dict[str, str]:
    """The app's own user, as stored on records it creates."""
    return {"login": shapes.BOT_LOGIN, "type": "Bot"}


def create_token(fake: FakeGitHub, call: Call) -> Reply:
    installation_id = int(call.params["installation_id"])
    inst = fake.installations.get(installation_id)
    if inst is None:
        raise not_found()
    token = fake.issue_token(installation_id)
    fake.token_requests[installation_id] += 1
    body = call.body()
    return Reply(201, {
        "token": token, "expires_at": shapes.iso(fake.tokens[token].expires_at),
        "permissions": body.get("permissions") or dict(inst.permissions),
        "repository_selection": "selected" if body.get("repositories") else "all",
    })


def manifest_conversion(fake: FakeGitHub, call: Call) -> Reply:
    seeded = fake.manifest_codes.pop(call.params["code"], None)
    if seeded is None:
        raise not_found()
    body = {
        **app_integration(fake, call), "client_id": fake.client_id,
        "client_secret": secrets.token_hex(20), "webhook_secret": secrets.token_hex(20),
        "pem": "-----BEGIN RSA PRIVATE KEY-----\nFAKE\n-----END RSA PRIVATE KEY-----\n",
    }
    body.update(seeded)
    return Reply(201, body)


# -- check runs -------------------------------------------------------------------------------


def _annotation_problems(annotations: list[dict[str, Any]]) -> list[str]:
    """Rules GitHub enforces on annotations beyond the JSON schema."""
    problems = []
    for i, a in enumerate(annotations):
        where = f"output/annotations/{i}"
        if ("start_column" in a or "end_column" in a) and a["start_line"] != a["end_line"]:
            problems.append(f"{where}: start_column/end_column need start_line == end_line")
        if a["end_line"] < a["start_line"] or a["start_line"] < 1:
            problems.append(f"{where}: bad line range {a['start_line']}..{a['end_line']}")
        if len(a.get("title") or "") > 255:
            problems.append(f"{where}: title longer than 255 characters")
        for key in ("message", "raw_details"):
            if len((a.get(key) or "").encode()) > 65536:
                problems.append(f"{where}: {key} larger than 64 KB")
    return problems


def _check_rules(fake: FakeGitHub, call: Call, body: dict[str, Any]) -> None:
    problems = _annotation_problems(body.get("output", {}).get("annotations", []))
    for key in ("summary", "text"):  # maxLength 65535, and GitHub counts it in UTF-8 bytes
        if len((body.get("output", {}).get(key) or "").encode()) > 65535:
            problems.append(f"output/{key}: longer than 65535 bytes")
    if body.get("conclusion") == "stale":
        problems.append("conclusion 'stale' can only be set by GitHub")
    if problems:
        raise fake.violation(call, "; ".join(problems))


def _check_json(fake: FakeGitHub, call: Call, run: dict[str, Any]) -> dict[str, Any]:
    repo = fake.repos[run["repository"].lower()]
    minimal = []
    for (name, _), pr in fake.pulls.items():
        if name == repo.full_name and pr.head_repository == name and pr.state == "open":
            base, head = fake.pull_shas(pr)
            if head == run["head_sha"]:
                short = name.split("/")[1]
                ref = {"id": repo.id, "url": f"{call.urls.api}/repos/{name}", "name": short}
                minimal.append({
                    "id": pr.id, "number": pr.number,
                    "url": f"{call.urls.api}/repos/{name}/pulls/{pr.number}",
                    "head": {"ref": pr.head_ref, "sha": head, "repo": ref},
                    "base": {"ref": pr.base_ref, "sha": base, "repo": ref},
                })
    app = github_ci.app_of(run, call.urls) or app_integration(fake, call)
    return shapes.check_run(call.urls, run, app, minimal)


def _apply(fake: FakeGitHub, run: dict[str, Any], body: dict[str, Any]) -> None:
    for key in ("name", "details_url", "external_id", "started_at", "status", "completed_at"):
        if key in body:
            run[key] = body[key]
    if "conclusion" in body:
        run["conclusion"], run["status"] = body["conclusion"], "completed"
    if run["status"] == "completed" and not run["completed_at"]:
        run["completed_at"] = fake.stamp()
    output = body.get("output", {})
    for key in ("title", "summary", "text", "images"):
        if key in output:
            run["output"][key] = output[key]
    run["annotations"].extend(output.get("annotations", []))
    if "actions" in body:
        run["actions"] = list(body["actions"])


def create_check_run(fake: FakeGitHub, call: Call) -> Reply:
    repo, body = fake.repo(call), call.body()
    _check_rules(fake, call, body)
    if repo.git.resolve(body["head_sha"]) != body["head_sha"]:
        raise validation_failed(f"No commit found for SHA: {body['head_sha']}")
    run: dict[str, Any] = {
        "id": fake.next_id(), "repository": repo.full_name, "name": body["name"],
        "head_sha": body["head_sha"], "status": "queued", "conclusion": None,
        "external_id": None, "details_url": "https://relo.test", "started_at": fake.stamp(),
        "completed_at": None, "output": {"title": None, "summary": None, "text": None},
        "annotations": [], "actions": [], "updates": [], "created_with": body,
        "check_suite_id": fake.check_suites.setdefault(
            (repo.full_name, body["head_sha"]), fake.next_id()),
    }
    _apply(fake, run, body)
    fake.check_runs.append(run)
    return Reply(201, _check_json(fake, call, run))


def _run(fake: FakeGitHub, call: Call) -> dict[str, Any]:
    repo, run_id = fake.repo(call), int(call.params["check_run_id"])
    run = next((r for r in fake.runs_for(repo.full_name) if r["id"] == run_id), None)
    if run is None:
        raise not_found()
    return run


def update_check_run(fake: FakeGitHub, call: Call) -> Reply:
    run, body = _run(fake, call), call.body()
    _check_rules(fake, call, body)
    run["updates"].append(body)
    _apply(fake, run, body)
    return Reply(200, _check_json(fake, call, run))


def get_check_run(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, _check_json(fake, call, _run(fake, call)))


def _list_runs(fake: FakeGitHub, call: Call, runs: list[dict[str, Any]]) -> Reply:
    q = call.query
    runs = [
        r for r in runs
        if q.get("check_name") in (None, r["name"]) and q.get("status") in (None, r["status"])
    ]
    runs.sort(key=lambda r: -r["id"])
    if q.get("filter", "latest") == "latest":
        latest: dict[str, dict[str, Any]] = {}
        for r in runs:
            latest.setdefault(r["name"], r)
        runs = list(latest.values())
    page, link = paginate(call, runs)
    body = {"total_count": len(runs), "check_runs": [_check_json(fake, call, r) for r in page]}
    return Reply(200, body, headers=link)


def runs_for_ref(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    sha = repo.git.resolve(call.params["ref"])
    if sha is None:
        raise validation_failed(f"No commit found for SHA: {call.params['ref']}")
    runs = fake.runs_for(repo.full_name, sha) + fake.other_checks.at(repo.full_name, sha)
    return _list_runs(fake, call, runs)


def runs_for_suite(fake: FakeGitHub, call: Call) -> Reply:
    repo, suite = fake.repo(call), int(call.params["check_suite_id"])
    if suite not in fake.check_suites.values():
        raise not_found()
    runs = [r for r in fake.runs_for(repo.full_name) if r["check_suite_id"] == suite]
    return _list_runs(fake, call, runs)


# -- issues, comments, reactions --------------------------------------------------------------


def _issue_number(fake: FakeGitHub, repo: FakeRepo, number: int) -> int:
    known = (repo.full_name, number) in fake.pulls or any(
        i["repository"] == repo.full_name and i["number"] == number for i in fake.issues)
    if not known:
        raise not_found()
    return number


def _since(items: list[dict[str, Any]], since: str | None, key: str) -> list[dict[str, Any]]:
    if not since:
        return items
    cutoff = datetime.fromisoformat(since)
    return [i for i in items if datetime.fromisoformat(i[key]) >= cutoff]


def list_comments(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    number = _issue_number(fake, repo, int(call.params["issue_number"]))
    comments = _since(fake.comments_on(repo.full_name, number), call.query.get("since"),
                      "updated_at")
    page, link = paginate(call, comments)
    return Reply(200, [shapes.issue_comment(call.urls, c) for c in page], headers=link)


def create_comment(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    number = _issue_number(fake, repo, int(call.params["issue_number"]))
    body = call.body()["body"]
    comment = fake.store_comment(repo.full_name, number, body, shapes.BOT_LOGIN, "Bot")
    return Reply(201, shapes.issue_comment(call.urls, comment))


def _comment(fake: FakeGitHub, call: Call) -> dict[str, Any]:
    repo = fake.repo(call)
    comment = fake.comments.get(int(call.params["comment_id"]))
    if comment is None or comment["repository"] != repo.full_name:
        raise not_found()
    return comment


def update_comment(fake: FakeGitHub, call: Call) -> Reply:
    comment = _comment(fake, call)
    comment.update(body=call.body()["body"], updated_at=fake.stamp())
    return Reply(200, shapes.issue_comment(call.urls, comment))


def create_issue(fake: FakeGitHub, call: Call) -> Reply:
    repo, body = fake.repo(call), call.body()
    used = [n for (name, n) in fake.pulls if name == repo.full_name]
    used += [i["number"] for i in fake.issues if i["repository"] == repo.full_name]
    issue = {
        "id": fake.next_id(), "repository": repo.full_name, "number": max(used, default=0) + 1,
        "title": body["title"], "body": body.get("body"), "labels": body.get("labels", []),
        "user": _bot(), "created_at": fake.stamp(),
    }
    fake.issues.append(issue)
    return Reply(201, shapes.issue(call.urls, issue, 0))


def create_reaction(fake: FakeGitHub, call: Call) -> Reply:
    comment, content = _comment(fake, call), call.body()["content"]
    for existing in fake.reactions:
        if (existing["comment_id"], existing["content"]) == (comment["id"], content):
            return Reply(200, shapes.reaction(call.urls, existing))
    reaction = {
        "id": fake.next_id(), "comment_id": comment["id"], "repository": comment["repository"],
        "content": content, "user": _bot(), "created_at": fake.stamp(),
    }
    fake.reactions.append(reaction)
    return Reply(201, shapes.reaction(call.urls, reaction))


# -- pull request reviews ---------------------------------------------------------------------


def _files_at(
    fake: FakeGitHub, repo: FakeRepo, pr: FakePull, commit_id: str | None
) -> tuple[str, dict[str, gitdata.FileChange]]:
    """(commit, files of the PR diff at that commit): comments are placed on that diff."""
    base, head = fake.pull_shas(pr)
    sha = repo.git.resolve(commit_id) if commit_id else head
    if sha is None or not gitdata.is_ancestor(repo.git, sha, head):
        raise validation_failed("commit_id is not part of the pull request")
    files = gitdata.diff(repo.git, gitdata.merge_base(repo.git, base, sha) or base, sha)
    return sha, {f.filename: f for f in files}


def _place(files: dict[str, gitdata.FileChange], c: dict[str, Any]) -> dict[str, Any]:
    """Where comment ``c`` lands in the diff, or GitHub's 422 when it is not in a hunk."""
    fc = files.get(c["path"])
    if fc is None:
        raise unprocessable("Path could not be resolved")
    spot: dict[str, Any] = {"line": None, "side": None, "start_line": None,
                            "start_side": None, "position": None,
                            "diff_hunk": fc.patch or "", "subject_type": "file"}
    if c.get("subject_type") == "file":
        return spot
    line, side = c.get("line"), c.get("side", "RIGHT")
    if line is None and c.get("position") is not None:
        found = fc.position_line(c["position"])
        if found is None:
            raise unprocessable("Position could not be resolved")
        line, side = found
    if line is None or side not in ("LEFT", "RIGHT"):
        raise unprocessable("Line could not be resolved")
    located = fc.locate(line, side)
    if located is None:
        raise unprocessable("Line could not be resolved")
    spot.update(line=line, side=side, position=located[0], diff_hunk=located[1],
                subject_type="line")
    start = c.get("start_line")
    if start is not None:
        start_side = c.get("start_side", side)
        if start_side not in ("LEFT", "RIGHT") or fc.hunk_index(start, start_side) != (
                fc.hunk_index(line, side)):
            raise unprocessable("Start line could not be resolved")
        if start_side == side and start >= line:
            raise unprocessable("start_line must precede line")
        spot.update(start_line=start, start_side=start_side)
    return spot


def _store_review_comment(
    fake: FakeGitHub, pr: FakePull, review_id: int, commit: str, c: dict[str, Any],
    spot: dict[str, Any], reply_to: int | None = None,
) -> dict[str, Any]:
    record = {
        "id": fake.next_id(), "repository": pr.repository, "pull_number": pr.number,
        "review_id": review_id, "path": c["path"], "body": c["body"], "commit_id": commit,
        "user": _bot(), "created_at": fake.stamp(), "in_reply_to_id": reply_to, **spot,
    }
    fake.review_comments[record["id"]] = record
    return record


def _store_review(
    fake: FakeGitHub, pr: FakePull, state: str, body: str, commit: str
) -> dict[str, Any]:
    review = {
        "id": fake.next_id(), "repository": pr.repository, "pull_number": pr.number,
        "user": _bot(), "body": body, "state": state, "commit_id": commit,
        "submitted_at": None if state == "PENDING" else fake.stamp(), "comments": [],
    }
    fake.reviews.append(review)
    return review


def create_review(fake: FakeGitHub, call: Call) -> Reply:
    repo, pr, body = fake.repo(call), fake.pull(call), call.body()
    commit, files = _files_at(fake, repo, pr, body.get("commit_id"))
    comments = body.get("comments", [])
    event = body.get("event")
    blank = not body.get("body")
    if blank and (event == "REQUEST_CHANGES" or (event == "COMMENT" and not comments)):
        raise unprocessable("Review body can't be blank")
    spots = [_place(files, c) for c in comments]  # one bad comment fails the whole review
    state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED",
             "COMMENT": "COMMENTED"}.get(event or "", "PENDING")
    review = _store_review(fake, pr, state, body.get("body", ""), commit)
    for c, spot in zip(comments, spots, strict=True):
        stored = _store_review_comment(fake, pr, review["id"], commit, c, spot)
        review["comments"].append(stored["id"])
    return Reply(200, shapes.review(call.urls, review))


def list_reviews(fake: FakeGitHub, call: Call) -> Reply:
    pr = fake.pull(call)
    reviews = [r for r in fake.reviews
               if (r["repository"], r["pull_number"]) == (pr.repository, pr.number)]
    page, link = paginate(call, reviews)
    return Reply(200, [shapes.review(call.urls, r) for r in page], headers=link)


def create_review_comment(fake: FakeGitHub, call: Call) -> Reply:
    repo, pr, body = fake.repo(call), fake.pull(call), call.body()
    if body.get("in_reply_to") is not None:
        parent = fake.review_comments.get(body["in_reply_to"])
        if parent is None or (parent["repository"], parent["pull_number"]) != (
                pr.repository, pr.number):
            raise not_found()
        keys = ("line", "side", "start_line", "start_side", "position", "diff_hunk",
                "subject_type")
        spot = {k: parent[k] for k in keys}
        c = {"path": parent["path"], "body": body["body"]}
        record = _store_review_comment(fake, pr, parent["review_id"], parent["commit_id"], c,
                                       spot, reply_to=parent["id"])
        return Reply(201, shapes.review_comment(call.urls, record))
    commit, files = _files_at(fake, repo, pr, body["commit_id"])
    spot = _place(files, body)
    review = _store_review(fake, pr, "COMMENTED", "", commit)
    record = _store_review_comment(fake, pr, review["id"], commit, body, spot)
    review["comments"].append(record["id"])
    return Reply(201, shapes.review_comment(call.urls, record))


def list_review_comments(fake: FakeGitHub, call: Call) -> Reply:
    pr = fake.pull(call)
    comments = [c for c in fake.review_comments.values()
                if (c["repository"], c["pull_number"]) == (pr.repository, pr.number)]
    comments = _since(comments, call.query.get("since"), "created_at")
    comments.sort(key=lambda c: c["id"], reverse=call.query.get("direction") == "desc")
    page, link = paginate(call, comments)
    return Reply(200, [shapes.review_comment(call.urls, c) for c in page], headers=link)


def delete_review_comment(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    comment = fake.review_comments.get(int(call.params["comment_id"]))
    if comment is None or comment["repository"] != repo.full_name:
        raise not_found()
    del fake.review_comments[comment["id"]]
    return Reply(204)


ROUTES = [
    ("POST", "/app/installations/{installation_id}/access_tokens", create_token),
    ("POST", "/app-manifests/{code}/conversions", manifest_conversion),
    ("POST", REPO + "/check-runs", create_check_run),
    ("GET", REPO + "/check-runs/{check_run_id}", get_check_run),
    ("PATCH", REPO + "/check-runs/{check_run_id}", update_check_run),
    ("GET", REPO + "/commits/{ref}/check-runs", runs_for_ref),
    ("GET", REPO + "/check-suites/{check_suite_id}/check-runs", runs_for_suite),
    ("GET", REPO + "/issues/{issue_number}/comments", list_comments),
    ("POST", REPO + "/issues/{issue_number}/comments", create_comment),
    ("PATCH", REPO + "/issues/comments/{comment_id}", update_comment),
    ("POST", REPO + "/issues", create_issue),
    ("POST", REPO + "/issues/comments/{comment_id}/reactions", create_reaction),
    ("GET", REPO + "/pulls/{pull_number}/reviews", list_reviews),
    ("POST", REPO + "/pulls/{pull_number}/reviews", create_review),
    ("GET", REPO + "/pulls/{pull_number}/comments", list_review_comments),
    ("POST", REPO + "/pulls/{pull_number}/comments", create_review_comment),
    ("DELETE", REPO + "/pulls/comments/{comment_id}", delete_review_comment),
]
