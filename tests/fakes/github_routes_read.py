"""Read-only endpoints of the fake GitHub: the app, repos, pulls, commits, contents, trees.

Everything about code is computed from the real git repository on each request (diffs are
cached by SHA), so a test that commits again sees the new head like GitHub would.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import github_git as gitdata
from . import github_shapes as shapes
from .github_http import (
    ApiError,
    Call,
    Reply,
    link_header,
    not_found,
    page_window,
    paginate,
    validation_failed,
)

if TYPE_CHECKING:
    from .github import FakeGitHub, FakePull, FakeRepo

REPO = "/repos/{owner}/{repo}"


def _accepts(call: Call, kind: str) -> str | None:
    """The custom media type asked for (``application/vnd.github[.v3].<kind>``), if any."""
    accept = call.headers.get("accept", "")
    for media in (f"application/vnd.github.v3.{kind}", f"application/vnd.github.{kind}"):
        if media in accept:
            return media
    return None


def _sha(repo: FakeRepo, ref: str, error: ApiError | None = None) -> str:
    sha = repo.git.resolve(ref)
    if sha is None:
        raise error or not_found(f"No commit found for the ref {ref}")
    return sha


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def _installation(fake: FakeGitHub, call: Call, installation_id: int) -> dict[str, Any]:
    inst = fake.installations.get(installation_id)
    if inst is None:
        raise not_found()
    return shapes.installation(
        call.urls, installation_id, account=inst.account, account_type=inst.account_type,
        app_id=int(fake.app_id) if fake.app_id.isdigit() else 0, slug=fake.app_slug,
        permissions=inst.permissions,
    )


def app_integration(fake: FakeGitHub, call: Call) -> dict[str, Any]:
    app_id = int(fake.app_id) if fake.app_id.isdigit() else 0
    return shapes.integration(
        call.urls, app_id=app_id, slug=fake.app_slug, client_id=fake.client_id,
        owner=fake.app_owner,
    )


def get_app(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, app_integration(fake, call))


def get_installation(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, _installation(fake, call, int(call.params["installation_id"])))


def repo_installation(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, _installation(fake, call, fake.repo(call).installation_id))


def rate_limit(fake: FakeGitHub, call: Call) -> Reply:
    bucket = call.installation_id or 0
    remaining = fake.rate_remaining.setdefault(bucket, fake.rate_limit)
    reset = fake.rate_reset.setdefault(bucket, int(fake.now().timestamp()) + 3600)
    core = shapes.rate(fake.rate_limit, remaining, reset)
    resources = {"core": core, "search": shapes.rate(30, 30, reset),
                 "graphql": shapes.rate(5000, 5000, reset)}
    return Reply(200, {"resources": resources, "rate": core})


def get_repo(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, fake.repo(call).json(call.urls, full=True))


def get_permission(fake: FakeGitHub, call: Call) -> Reply:
    repo, login = fake.repo(call), call.params["username"]
    level = fake.permissions.get((repo.full_name, login.lower()), "read")
    rank = ["none", "read", "write", "admin"].index(level) if level in (
        "none", "read", "write", "admin") else 1
    user = {
        **shapes.user(call.urls, login), "role_name": level,
        "permissions": {"pull": rank >= 1, "triage": rank >= 1, "push": rank >= 2,
                        "maintain": rank >= 2, "admin": rank >= 3},
    }
    return Reply(200, {"permission": level, "role_name": level, "user": user})


# -- pulls ------------------------------------------------------------------------------------


def pull_json(fake: FakeGitHub, urls: shapes.Urls, pr: FakePull, *, full: bool) -> dict[str, Any]:
    """``pull-request`` (full) or ``pull-request-simple`` JSON, from live git state."""
    repo = fake.repos[pr.repository.lower()]
    head_repo = fake.repos[pr.head_repository.lower()]
    base_sha, head_sha = fake.pull_shas(pr)

    def side(r: FakeRepo, ref: str, sha: str) -> dict[str, Any]:
        return {"label": f"{r.owner}:{ref}", "ref": ref, "sha": sha, "repo": r.json(urls),
                "user": shapes.user(urls, r.owner, r.owner_type)}

    record = {
        "repository": pr.repository, "number": pr.number, "id": pr.id, "state": pr.state,
        "title": pr.title, "body": pr.body, "user": shapes.user(urls, pr.user),
        "draft": pr.draft, "created_at": pr.created_at, "updated_at": pr.updated_at,
        "closed_at": pr.updated_at if pr.state == "closed" else None,
    }
    counts = None
    if full:
        merge_base = gitdata.merge_base(repo.git, base_sha, head_sha) or base_sha
        files = gitdata.diff(repo.git, merge_base, head_sha)
        counts = {
            "commits": gitdata.count(repo.git, f"{merge_base}..{head_sha}"),
            "additions": sum(f.additions for f in files),
            "deletions": sum(f.deletions for f in files), "changed_files": len(files),
            "comments": len(fake.comments_on(pr.repository, pr.number)),
            "review_comments": sum(
                1 for c in fake.review_comments.values()
                if (c["repository"], c["pull_number"]) == (pr.repository, pr.number)
            ),
        }
    return shapes.pull(
        urls, record, side(head_repo, pr.head_ref, head_sha),
        side(repo, pr.base_ref, base_sha), counts,
    )


def get_pull(fake: FakeGitHub, call: Call) -> Reply:
    return Reply(200, pull_json(fake, call.urls, fake.pull(call), full=True))


def list_pulls(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    state, base = call.query.get("state", "open"), call.query.get("base")
    owner, _, branch = call.query.get("head", "").rpartition(":")

    def wanted(pr: FakePull) -> bool:
        head_owner = pr.head_repository.split("/")[0].lower()
        return (
            pr.repository == repo.full_name
            and state in ("all", pr.state)
            and base in (None, pr.base_ref)
            and branch in ("", pr.head_ref)
            and owner.lower() in ("", head_owner)
        )

    pulls = [pr for pr in fake.pulls.values() if wanted(pr)]
    key = "updated_at" if call.query.get("sort") == "updated" else "id"
    default = "desc" if call.query.get("sort", "created") == "created" else "asc"
    descending = call.query.get("direction", default) == "desc"
    pulls.sort(key=lambda p: getattr(p, key), reverse=descending)
    page, link = paginate(call, pulls)
    return Reply(200, [pull_json(fake, call.urls, p, full=False) for p in page], headers=link)


def pull_files(fake: FakeGitHub, call: Call) -> Reply:
    repo, pr = fake.repo(call), fake.pull(call)
    base, head = fake.pull_shas(pr)
    files = gitdata.diff(repo.git, gitdata.merge_base(repo.git, base, head) or base, head)
    page, link = paginate(call, files[:3000])
    body = [shapes.diff_entry(call.urls, repo.full_name, head, f) for f in page]
    return Reply(200, body, headers=link)


def pulls_for_commit(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    sha = repo.git.resolve(call.params["commit_sha"])
    if sha is None:
        raise validation_failed(f"No commit found for SHA: {call.params['commit_sha']}")
    found = []
    for (name, _), pr in sorted(fake.pulls.items(), key=lambda kv: -kv[1].number):
        if name != repo.full_name:
            continue
        base, head = fake.pull_shas(pr)
        if sha == head or (gitdata.is_ancestor(repo.git, sha, head)
                           and not gitdata.is_ancestor(repo.git, sha, base)):
            found.append(pr)
    page, link = paginate(call, found)
    return Reply(200, [pull_json(fake, call.urls, p, full=False) for p in page], headers=link)


# -- commits & compare ------------------------------------------------------------------------


def _commit_json(call: Call, repo: FakeRepo, sha: str, **extra: Any) -> dict[str, Any]:
    return shapes.commit(call.urls, repo.full_name, gitdata.commit(repo.git, sha), **extra)


def get_commit(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    ref = call.params["ref"]
    sha = _sha(repo, ref, validation_failed(f"No commit found for SHA: {ref}"))
    if _accepts(call, "sha"):
        return Reply(200, content=sha.encode(), media_type="application/vnd.github.sha")
    info = gitdata.commit(repo.git, sha)
    parent = info.parents[0] if info.parents else gitdata.EMPTY_TREE
    if media := _accepts(call, "diff") or _accepts(call, "patch"):
        return Reply(200, content=gitdata.raw_diff(repo.git, parent, sha), media_type=media)
    files = gitdata.diff(repo.git, parent, sha)
    page, link = paginate(call, files, default=300, maximum=300)
    entries = [shapes.diff_entry(call.urls, repo.full_name, sha, f) for f in page]
    stats = (sum(f.additions for f in files), sum(f.deletions for f in files))
    return Reply(200, _commit_json(call, repo, sha, files=entries, stats=stats), headers=link)


def list_commits(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    sha = _sha(repo, call.query.get("sha") or repo.default_branch)
    flags = [f"--{k}={call.query[k]}" for k in ("since", "until", "author") if k in call.query]
    paths = ["--", call.query["path"]] if call.query.get("path") else []
    shas = repo.git.git("rev-list", *flags, sha, *paths).split()
    page, link = paginate(call, shas)
    return Reply(200, [_commit_json(call, repo, s) for s in page], headers=link)


def _compare_side(fake: FakeGitHub, repo: FakeRepo, spec: str) -> str:
    """Resolve ``ref`` or ``owner:ref`` (a fork in the same network) to a SHA in ``repo``."""
    owner, _, ref = spec.rpartition(":")
    if not owner or owner.lower() == repo.owner.lower():
        return _sha(repo, ref, not_found())
    other = next((r for r in fake.repos.values() if r.owner.lower() == owner.lower()
                  and r.full_name.split("/")[1] == repo.full_name.split("/")[1]), None)
    sha = other.git.resolve(ref) if other else None
    if other is None or sha is None:
        raise not_found()
    if repo.git.run("cat-file", "-e", f"{sha}^{{commit}}").returncode:
        refspec = f"+refs/heads/*:refs/remotes/network-{owner}/*"
        repo.git.git("fetch", "--quiet", "--no-tags", str(other.git.path), refspec)
    return sha


def compare(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    base_spec, sep, head_spec = call.params["basehead"].partition("...")
    if not sep:
        raise not_found()
    base, head = _compare_side(fake, repo, base_spec), _compare_side(fake, repo, head_spec)
    merge_base = gitdata.merge_base(repo.git, base, head)
    if merge_base is None:
        raise not_found(f"No common ancestor between {base_spec} and {head_spec}.")
    if media := _accepts(call, "diff") or _accepts(call, "patch"):
        return Reply(200, content=gitdata.raw_diff(repo.git, merge_base, head), media_type=media)
    ahead = gitdata.count(repo.git, f"{merge_base}..{head}")
    behind = gitdata.count(repo.git, f"{merge_base}..{base}")
    status = ("identical" if not ahead and not behind else "ahead" if not behind
              else "behind" if not ahead else "diverged")
    commits = [c.sha for c in gitdata.log(repo.git, "--reverse", f"{merge_base}..{head}")]
    files = gitdata.diff(repo.git, merge_base, head)[:300]
    headers: dict[str, str] = {}
    if "page" in call.query or "per_page" in call.query:
        page, per_page = page_window(call)
        headers = link_header(call, page, per_page, len(commits))
        files = files if page == 1 else ()
        commits = commits[(page - 1) * per_page : page * per_page]
    else:
        commits = commits[-250:]
    api = f"{call.urls.api}/repos/{repo.full_name}"
    html = f"{call.urls.html}/{repo.full_name}"
    basehead = call.params["basehead"]
    body = {
        "url": f"{api}/compare/{basehead}", "html_url": f"{html}/compare/{basehead}",
        "permalink_url": f"{html}/compare/{repo.owner}:{base[:7]}...{repo.owner}:{head[:7]}",
        "diff_url": f"{html}/compare/{basehead}.diff",
        "patch_url": f"{html}/compare/{basehead}.patch",
        "base_commit": _commit_json(call, repo, base),
        "merge_base_commit": _commit_json(call, repo, merge_base), "status": status,
        "ahead_by": ahead, "behind_by": behind, "total_commits": ahead,
        "commits": [_commit_json(call, repo, s) for s in commits],
        "files": [shapes.diff_entry(call.urls, repo.full_name, head, f) for f in files],
    }
    return Reply(200, body, headers=headers)


# -- contents, trees, blobs, archives ---------------------------------------------------------


def _content_item(
    call: Call, repo: FakeRepo, ref: str, entry: gitdata.TreeEntry, data: bytes | None
) -> dict[str, Any]:
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.type, "file")
    kind = "symlink" if entry.mode == "120000" else kind
    path = quote(entry.path)
    url = f"{call.urls.api}/repos/{repo.full_name}/contents/{path}?ref={quote(ref)}"
    git_url = f"{call.urls.api}/repos/{repo.full_name}/git/" + (
        f"trees/{entry.sha}" if entry.type == "tree" else f"blobs/{entry.sha}")
    html = f"{call.urls.html}/{repo.full_name}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}"
    raw = f"https://raw.github.test/{repo.full_name}/{ref}/{path}" if kind == "file" else None
    item: dict[str, Any] = {
        "type": kind, "size": entry.size or 0, "name": entry.path.rsplit("/", 1)[-1],
        "path": entry.path, "sha": entry.sha, "url": url, "git_url": git_url, "html_url": html,
        "download_url": raw, "_links": {"self": url, "git": git_url, "html": html},
    }
    if data is not None and kind == "symlink":
        item["target"] = data.decode(errors="replace")
    elif data is not None:
        small = len(data) <= 1_000_000
        item.update(content=_b64(data) if small else "", encoding="base64" if small else "none")
    return item


def get_content(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    ref = call.query.get("ref") or repo.default_branch
    sha = _sha(repo, ref)
    path = call.params["path"].strip("/")

    entries = gitdata.ls_tree(repo.git, sha, path) if path else []
    if path and (len(entries) != 1 or entries[0].path != path):
        raise not_found()
    if not path or entries[0].type == "tree":
        listing = gitdata.ls_tree(repo.git, sha, *([f"{path}/"] if path else []))
        return Reply(200, [_content_item(call, repo, ref, e, None) for e in listing])
    entry = entries[0]
    data = gitdata.blob(repo.git, entry.sha) if entry.type == "blob" else None
    if data is not None and (media := _accepts(call, "raw")):
        return Reply(200, content=data, media_type=media)
    return Reply(200, _content_item(call, repo, ref, entry, data))


def get_tree(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    proc = repo.git.run("rev-parse", "--verify", "--quiet", f"{call.params['tree_sha']}^{{tree}}")
    if proc.returncode:
        raise not_found()
    tree = proc.stdout.decode().strip()
    api = f"{call.urls.api}/repos/{repo.full_name}/git"
    entries = [
        {"path": e.path, "mode": e.mode, "type": e.type, "sha": e.sha,
         **({"size": e.size} if e.size is not None else {}),
         "url": f"{api}/{'trees' if e.type == 'tree' else 'blobs'}/{e.sha}"}
        for e in gitdata.ls_tree(repo.git, tree, recursive="recursive" in call.query)
    ]
    return Reply(200, {"sha": tree, "url": f"{api}/trees/{tree}", "tree": entries,
                       "truncated": False})


def get_blob(fake: FakeGitHub, call: Call) -> Reply:
    repo, sha = fake.repo(call), call.params["file_sha"]
    if gitdata.object_type(repo.git, sha) != "blob" or len(sha) != 40:
        raise not_found()
    data = gitdata.blob(repo.git, sha)
    return Reply(200, {
        "sha": sha, "node_id": shapes.node_id("Blob", 0), "size": len(data),
        "url": f"{call.urls.api}/repos/{repo.full_name}/git/blobs/{sha}",
        "content": _b64(data), "encoding": "base64",
    })


def tarball(fake: FakeGitHub, call: Call) -> Reply:
    repo = fake.repo(call)
    sha = _sha(repo, call.params["ref"], not_found())
    location = f"{call.urls.api}/_codeload/{repo.full_name}/legacy.tar.gz/{sha}"
    return Reply(302, headers={"location": location})


def codeload(fake: FakeGitHub, owner: str, name: str, sha: str) -> Reply:
    """The signed codeload link ``tarball`` redirects to: no auth, like GitHub's."""
    repo = fake.repos.get(f"{owner}/{name}".lower())
    if repo is None or repo.git.resolve(sha) != sha:
        return Reply(404, content=b"Not Found", media_type="text/plain")
    prefix = f"{repo.owner}-{repo.full_name.split('/')[1]}-{sha[:7]}/"
    return Reply(
        200, content=gitdata.archive(repo.git, sha, prefix), media_type="application/x-gzip",
        headers={"content-disposition": f"attachment; filename={prefix[:-1]}.tar.gz"},
    )


ROUTES = [
    ("GET", "/app", get_app),
    ("GET", "/app/installations/{installation_id}", get_installation),
    ("GET", REPO + "/installation", repo_installation),
    ("GET", "/rate_limit", rate_limit),
    ("GET", REPO, get_repo),
    ("GET", REPO + "/collaborators/{username}/permission", get_permission),
    ("GET", REPO + "/pulls", list_pulls),
    ("GET", REPO + "/pulls/{pull_number}", get_pull),
    ("GET", REPO + "/pulls/{pull_number}/files", pull_files),
    ("GET", REPO + "/commits/{commit_sha}/pulls", pulls_for_commit),
    ("GET", REPO + "/commits/{ref}", get_commit),
    ("GET", REPO + "/commits", list_commits),
    ("GET", REPO + "/compare/{basehead}", compare),
    ("GET", REPO + "/contents/{path}", get_content),
    ("GET", REPO + "/git/trees/{tree_sha}", get_tree),
    ("GET", REPO + "/git/blobs/{file_sha}", get_blob),
    ("GET", REPO + "/tarball/{ref}", tarball),
]
