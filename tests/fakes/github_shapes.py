"""JSON bodies shaped exactly like GitHub's (every field the OpenAPI schemas require).

Kept apart from the fake's behaviour so the response contract is one readable place; the
fake validates what these build against the published schemas on every response.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .github_git import CommitInfo, FileChange

EPOCH = "2023-11-14T22:00:00Z"
BOT_LOGIN = "relo-review[bot]"
APP_PERMISSIONS = {
    "checks": "write", "contents": "read", "issues": "write", "metadata": "read",
    "pull_requests": "write",
}
APP_EVENTS = ["check_run", "check_suite", "issue_comment", "pull_request", "push"]
_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
    "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
    "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
    "languages_url": "/languages", "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
    "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}


@dataclass(frozen=True)
class Urls:
    """Where the API and the web UI live, as seen by the current request."""

    api: str
    html: str = "https://github.test"


def iso(moment: datetime) -> str:
    """GitHub's timestamp format: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_iso(stamp: str) -> str:
    """A ``git log %aI`` timestamp in GitHub's format."""
    return iso(datetime.fromisoformat(stamp))


def stable_id(text: str) -> int:
    """A deterministic numeric id for a login or name."""
    return zlib.crc32(text.encode()) % 90_000_000 + 10_000_000


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode().rstrip("=")


def user(u: Urls, login: str, kind: str = "User") -> dict[str, Any]:
    """A ``simple-user``; ``kind`` is User, Organization or Bot."""
    api = f"{u.api}/users/{quote(login)}"
    uid = stable_id(login)
    return {
        "login": login, "id": uid, "node_id": node_id(kind, uid),
        "avatar_url": f"https://avatars.github.test/u/{uid}?v=4", "gravatar_id": "",
        "url": api, "html_url": f"{u.html}/{quote(login)}",
        "followers_url": f"{api}/followers", "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}", "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions", "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": kind, "site_admin": False,
        "user_view_type": "public",
    }


def bot(u: Urls) -> dict[str, Any]:
    return user(u, BOT_LOGIN, "Bot")


def repository(
    u: Urls, full_name: str, *, repo_id: int, private: bool, default_branch: str,
    owner_type: str = "Organization", fork: bool = False, full: bool = False,
) -> dict[str, Any]:
    """A ``repository`` (or ``full-repository`` with ``full``)."""
    owner, name = full_name.split("/", 1)
    api = f"{u.api}/repos/{full_name}"
    body: dict[str, Any] = {
        "id": repo_id, "node_id": node_id("Repository", repo_id), "name": name,
        "full_name": full_name, "owner": user(u, owner, owner_type), "private": private,
        "html_url": f"{u.html}/{full_name}", "description": None, "fork": fork, "url": api,
        **{key: api + suffix for key, suffix in _REPO_URLS.items()},
        "git_url": f"git://github.test/{full_name}.git",
        "ssh_url": f"git@github.test:{full_name}.git", "clone_url": f"{u.html}/{full_name}.git",
        "svn_url": f"{u.html}/{full_name}", "mirror_url": None, "homepage": None,
        "language": None, "forks_count": 0, "forks": 0, "stargazers_count": 0,
        "watchers_count": 0, "watchers": 0, "size": 0, "default_branch": default_branch,
        "open_issues_count": 0, "open_issues": 0, "is_template": False, "topics": [],
        "has_issues": True, "has_projects": True, "has_wiki": True, "has_pages": False,
        "has_downloads": True, "has_discussions": False, "archived": False, "disabled": False,
        "visibility": "private" if private else "public", "pushed_at": EPOCH,
        "created_at": EPOCH, "updated_at": EPOCH, "license": None, "allow_forking": True,
        "web_commit_signoff_required": False,
    }
    if full:
        body.update(network_count=0, subscribers_count=0)
    return body


def integration(u: Urls, *, app_id: int, slug: str, client_id: str, owner: str) -> dict[str, Any]:
    """The app itself (``integration``)."""
    return {
        "id": app_id, "slug": slug, "node_id": node_id("Integration", app_id),
        "client_id": client_id, "owner": user(u, owner, "Organization"), "name": "Relo Review",
        "description": "Reviews coding assignments.", "external_url": "https://relo.test",
        "html_url": f"{u.html}/apps/{slug}", "created_at": EPOCH, "updated_at": EPOCH,
        "permissions": dict(APP_PERMISSIONS), "events": list(APP_EVENTS),
    }


def installation(
    u: Urls, installation_id: int, *, account: str, account_type: str, app_id: int, slug: str,
    permissions: dict[str, str],
) -> dict[str, Any]:
    acct = user(u, account, account_type)
    return {
        "id": installation_id, "account": acct, "repository_selection": "all",
        "access_tokens_url": f"{u.api}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{u.api}/installation/repositories",
        "html_url": f"{u.html}/organizations/{account}/settings/installations/{installation_id}",
        "app_id": app_id, "app_slug": slug, "target_id": acct["id"], "target_type": account_type,
        "permissions": dict(permissions), "events": list(APP_EVENTS), "created_at": EPOCH,
        "updated_at": EPOCH, "single_file_name": None, "has_multiple_single_files": False,
        "single_file_paths": [], "suspended_by": None, "suspended_at": None,
    }


def _login_for(name: str, email: str) -> str:
    if email.endswith("@users.noreply.github.com"):
        return email.split("@")[0].split("+")[-1]
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "ghost"


def commit(
    u: Urls, full_name: str, info: CommitInfo, *, files: list[dict[str, Any]] | None = None,
    stats: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A ``commit``; ``files``/``stats`` only for the single-commit endpoint."""
    api = f"{u.api}/repos/{full_name}"

    def git_user(name: str, email: str, date: str) -> dict[str, str]:
        return {"name": name, "email": email, "date": git_iso(date)}

    body: dict[str, Any] = {
        "url": f"{api}/commits/{info.sha}", "sha": info.sha, "node_id": node_id("Commit", 0),
        "html_url": f"{u.html}/{full_name}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": git_user(info.author_name, info.author_email, info.author_date),
            "committer": git_user(info.committer_name, info.committer_email, info.committer_date),
            "message": info.message, "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "verification": {"verified": False, "reason": "unsigned", "signature": None,
                             "payload": None, "verified_at": None},
        },
        "author": user(u, _login_for(info.author_name, info.author_email)),
        "committer": user(u, _login_for(info.committer_name, info.committer_email)),
        "parents": [{"sha": p, "url": f"{api}/commits/{p}",
                     "html_url": f"{u.html}/{full_name}/commit/{p}"} for p in info.parents],
    }
    if stats is not None:
        body["stats"] = {"additions": stats[0], "deletions": stats[1], "total": sum(stats)}
    if files is not None:
        body["files"] = files
    return body


def diff_entry(u: Urls, full_name: str, head_sha: str, fc: FileChange) -> dict[str, Any]:
    """A ``diff-entry``; ``patch`` is left out for binary files, like GitHub does."""
    path = quote(fc.filename)
    removed = fc.status == "removed"
    body: dict[str, Any] = {
        "sha": fc.old_sha if removed else fc.new_sha, "filename": fc.filename,
        "status": fc.status, "additions": fc.additions, "deletions": fc.deletions,
        "changes": fc.additions + fc.deletions,
        "blob_url": f"{u.html}/{full_name}/blob/{head_sha}/{path}",
        "raw_url": f"{u.html}/{full_name}/raw/{head_sha}/{path}",
        "contents_url": f"{u.api}/repos/{full_name}/contents/{path}?ref={head_sha}",
    }
    if fc.patch is not None:
        body["patch"] = fc.patch
    if fc.previous_filename is not None:
        body["previous_filename"] = fc.previous_filename
    return body


def pull_links(u: Urls, full_name: str, number: int) -> dict[str, dict[str, str]]:
    api = f"{u.api}/repos/{full_name}"
    return {
        "self": {"href": f"{api}/pulls/{number}"},
        "html": {"href": f"{u.html}/{full_name}/pull/{number}"},
        "issue": {"href": f"{api}/issues/{number}"},
        "comments": {"href": f"{api}/issues/{number}/comments"},
        "review_comments": {"href": f"{api}/pulls/{number}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{api}/pulls/{number}/commits"},
        "statuses": {"href": f"{api}/statuses/{{sha}}"},
    }


def check_run(
    u: Urls, run: dict[str, Any], app: dict[str, Any], pulls: list[dict[str, Any]]
) -> dict[str, Any]:
    """A ``check-run`` from the fake's record (annotations are counted, not embedded)."""
    api = f"{u.api}/repos/{run['repository']}/check-runs/{run['id']}"
    out = run["output"]
    return {
        "id": run["id"], "node_id": node_id("CheckRun", run["id"]), "head_sha": run["head_sha"],
        "external_id": run["external_id"], "url": api,
        "html_url": f"{u.html}/{run['repository']}/runs/{run['id']}",
        "details_url": run["details_url"], "status": run["status"],
        "conclusion": run["conclusion"], "started_at": run["started_at"],
        "completed_at": run["completed_at"], "name": run["name"],
        "output": {"title": out.get("title"), "summary": out.get("summary"),
                   "text": out.get("text"), "annotations_count": len(run["annotations"]),
                   "annotations_url": f"{api}/annotations"},
        "check_suite": {"id": run["check_suite_id"]}, "app": app, "pull_requests": pulls,
    }


def author_association(permission: str) -> str:
    return {"admin": "OWNER", "write": "COLLABORATOR"}.get(permission, "NONE")


def issue_comment(u: Urls, c: dict[str, Any]) -> dict[str, Any]:
    api = f"{u.api}/repos/{c['repository']}"
    return {
        "id": c["id"], "node_id": node_id("IssueComment", c["id"]),
        "url": f"{api}/issues/comments/{c['id']}",
        "html_url": f"{u.html}/{c['repository']}/pull/{c['issue_number']}#issuecomment-{c['id']}",
        "body": c["body"], "user": user(u, c["user"]["login"], c["user"]["type"]),
        "created_at": c["created_at"], "updated_at": c["updated_at"],
        "issue_url": f"{api}/issues/{c['issue_number']}",
        "author_association": c["author_association"],
    }


def issue(u: Urls, i: dict[str, Any], comments: int) -> dict[str, Any]:
    api = f"{u.api}/repos/{i['repository']}/issues/{i['number']}"
    return {
        "id": i["id"], "node_id": node_id("Issue", i["id"]), "url": api,
        "repository_url": f"{u.api}/repos/{i['repository']}",
        "labels_url": f"{api}/labels{{/name}}", "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{u.html}/{i['repository']}/issues/{i['number']}",
        "number": i["number"], "state": "open", "title": str(i["title"]), "body": i["body"],
        "user": user(u, i["user"]["login"], i["user"]["type"]),
        "labels": [{"name": x} if isinstance(x, str) else x for x in i["labels"]],
        "assignee": None, "assignees": [], "milestone": None, "locked": False,
        "comments": comments, "closed_at": None, "created_at": i["created_at"],
        "updated_at": i["created_at"], "author_association": "NONE",
    }


def review(u: Urls, r: dict[str, Any]) -> dict[str, Any]:
    pr = f"{u.api}/repos/{r['repository']}/pulls/{r['pull_number']}"
    html = f"{u.html}/{r['repository']}/pull/{r['pull_number']}#pullrequestreview-{r['id']}"
    return {
        "id": r["id"], "node_id": node_id("PullRequestReview", r["id"]),
        "user": user(u, r["user"]["login"], r["user"]["type"]), "body": r["body"],
        "state": r["state"], "html_url": html, "pull_request_url": pr,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr}},
        "submitted_at": r["submitted_at"], "commit_id": r["commit_id"],
        "author_association": "NONE",
    }


def review_comment(u: Urls, c: dict[str, Any]) -> dict[str, Any]:
    pr = f"{u.api}/repos/{c['repository']}/pulls/{c['pull_number']}"
    url = f"{u.api}/repos/{c['repository']}/pulls/comments/{c['id']}"
    html = f"{u.html}/{c['repository']}/pull/{c['pull_number']}#discussion_r{c['id']}"
    body = {
        "url": url, "pull_request_review_id": c["review_id"], "id": c["id"],
        "node_id": node_id("PullRequestReviewComment", c["id"]), "diff_hunk": c["diff_hunk"],
        "path": c["path"], "position": c["position"], "original_position": c["position"],
        "commit_id": c["commit_id"], "original_commit_id": c["commit_id"],
        "user": user(u, c["user"]["login"], c["user"]["type"]), "body": c["body"],
        "created_at": c["created_at"], "updated_at": c["created_at"], "html_url": html,
        "pull_request_url": pr, "author_association": "NONE",
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pr}},
        "line": c["line"], "original_line": c["line"], "side": c["side"],
        "start_line": c["start_line"], "original_start_line": c["start_line"],
        "start_side": c["start_side"], "subject_type": c["subject_type"],
    }
    if c.get("in_reply_to_id") is not None:
        body["in_reply_to_id"] = c["in_reply_to_id"]
    # File-level comments have no line; these keys are not nullable, so GitHub omits them.
    for key in ("position", "original_position", "line", "original_line", "side"):
        if body[key] is None:
            del body[key]
    return body


def reaction(u: Urls, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"], "node_id": node_id("Reaction", r["id"]),
        "user": user(u, r["user"]["login"], r["user"]["type"]), "content": r["content"],
        "created_at": r["created_at"],
    }


def rate(limit: int, remaining: int, reset: int) -> dict[str, int]:
    return {"limit": limit, "remaining": remaining, "reset": reset, "used": limit - remaining}


def pull(
    u: Urls, pr: dict[str, Any], head: dict[str, Any], base: dict[str, Any],
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A ``pull-request`` (with ``counts``) or ``pull-request-simple`` (without).

    ``pr`` holds number/id/state/title/body/user/draft/created_at/updated_at/closed_at and
    ``repository``; ``head``/``base`` hold label/ref/sha/repo/user, as GitHub nests them.
    """
    full_name, number = pr["repository"], pr["number"]
    api = f"{u.api}/repos/{full_name}"
    body: dict[str, Any] = {
        "url": f"{api}/pulls/{number}", "id": pr["id"], "node_id": node_id("PullRequest", pr["id"]),
        "html_url": f"{u.html}/{full_name}/pull/{number}",
        "diff_url": f"{u.html}/{full_name}/pull/{number}.diff",
        "patch_url": f"{u.html}/{full_name}/pull/{number}.patch",
        "issue_url": f"{api}/issues/{number}", "commits_url": f"{api}/pulls/{number}/commits",
        "review_comments_url": f"{api}/pulls/{number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": f"{api}/statuses/{head['sha']}", "number": number,
        "state": pr["state"], "locked": False, "title": pr["title"], "user": pr["user"],
        "body": pr["body"], "labels": [], "milestone": None, "active_lock_reason": None,
        "created_at": pr["created_at"], "updated_at": pr["updated_at"],
        "closed_at": pr["closed_at"], "merged_at": None, "merge_commit_sha": None,
        "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": head, "base": base, "_links": pull_links(u, full_name, number),
        "author_association": "CONTRIBUTOR", "auto_merge": None, "draft": pr["draft"],
    }
    if counts is not None:
        body.update(
            merged=False, mergeable=True, rebaseable=True, mergeable_state="clean",
            merged_by=None, maintainer_can_modify=False, **counts,
        )
    return body
