"""The fake GitHub holds the app to GitHub's contract: prove it rejects and accepts correctly."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import gidgethub
import gidgethub.apps
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gidgethub.httpx import GitHubAPI

from tests.fakes.github import FakeGitHub
from tests.fakes.github_actions import zip_of
from tests.fakes.gitrepo import GitRepo

NO_SPEC = (
    "../shared/github/openapi-subset.json not found: contract tests need GitHub's published "
    "OpenAPI subset"
)
REPO = "org/homework"


def _keypair(bits: int = 2048) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return _keypair()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    git = GitRepo.init(tmp_path / "homework")
    git.commit({"README.md": "# Task\n", "src/app.py": "".join(f"x{i} = {i}\n" for i in range(40))},
               "starter")
    changed = "".join(f"x{i} = {i * (2 if i == 20 else 1)}\n" for i in range(40))
    git.commit({"src/app.py": changed, "src/new.py": "print('hi')\n"}, "solution", branch="work")
    return git


@pytest.fixture
def fake(keys: tuple[bytes, bytes], repo: GitRepo) -> FakeGitHub:
    github = FakeGitHub(public_key_pem=keys[1])
    github.add_repo(REPO, repo)
    github.add_pull(REPO, 1, head_ref="work", title="My solution")
    return github


@pytest.fixture
def contract(fake: FakeGitHub) -> FakeGitHub:
    """The fake, when the published spec is there (skip, or fail on CI, when it is not)."""
    if not fake.validating:
        if os.environ.get("CI") == "true":
            pytest.fail(NO_SPEC)
        pytest.skip(NO_SPEC)
    return fake


def _client(fake: FakeGitHub, **kwargs: Any) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=fake.app)
    return httpx2.AsyncClient(transport=transport, base_url=fake.base_url, **kwargs)


@pytest.fixture
async def gh(fake: FakeGitHub) -> AsyncIterator[GitHubAPI]:
    async with _client(fake) as client:
        yield GitHubAPI(client, "relo-test", oauth_token=fake.issue_token(1),
                        base_url=fake.base_url)


@pytest.fixture
async def http(fake: FakeGitHub) -> AsyncIterator[httpx2.AsyncClient]:
    async with _client(fake, headers={"authorization": f"token {fake.issue_token(1)}"}) as c:
        yield c


# -- the contract: wrong calls are refused and recorded ---------------------------------------


@pytest.mark.contract
async def test_unknown_path_is_a_violation(contract: FakeGitHub, gh: GitHubAPI) -> None:
    with pytest.raises(gidgethub.BadRequest) as caught:
        await gh.getitem(f"/repos/{REPO}/pull/1")
    assert caught.value.status_code == 422
    assert str(caught.value).startswith("fake github: unknown path")
    assert len(contract.violations) == 1 and "unknown path" in contract.violations[0]
    assert contract.count("GET", r"/pull/1$") == 1


@pytest.mark.contract
async def test_wrong_method_is_a_violation(contract: FakeGitHub, gh: GitHubAPI) -> None:
    with pytest.raises(gidgethub.BadRequest):
        await gh.put(f"/repos/{REPO}/pulls/1/files", data={})
    assert "wrong method PUT" in contract.violations[0]


@pytest.mark.contract
async def test_completed_check_run_needs_conclusion(
    contract: FakeGitHub, gh: GitHubAPI, repo: GitRepo
) -> None:
    body = {"name": "relo", "head_sha": repo.rev("work"), "status": "completed"}
    with pytest.raises(gidgethub.BadRequest):
        await gh.post(f"/repos/{REPO}/check-runs", data=body)
    assert "'conclusion' is a required property" in contract.violations[0]
    assert contract.check_runs == []


def _annotations(n: int) -> list[dict[str, Any]]:
    return [
        {"path": "src/app.py", "start_line": i + 1, "end_line": i + 1,
         "annotation_level": "warning", "message": f"finding {i}"}
        for i in range(n)
    ]


@pytest.mark.contract
async def test_at_most_50_annotations_per_request_and_updates_append(
    contract: FakeGitHub, gh: GitHubAPI, repo: GitRepo
) -> None:
    output = {"title": "Review", "summary": "s", "annotations": _annotations(51)}
    body = {"name": "relo", "head_sha": repo.rev("work"), "output": output}
    with pytest.raises(gidgethub.BadRequest):
        await gh.post(f"/repos/{REPO}/check-runs", data=body)
    assert "maxItems 50" in contract.violations[0]
    contract.violations.clear()

    output["annotations"] = _annotations(50)
    run = await gh.post(f"/repos/{REPO}/check-runs", data=body)
    more = {"summary": "done", "annotations": _annotations(7)}
    update = {"conclusion": "neutral", "output": more}
    done = await gh.patch(f"/repos/{REPO}/check-runs/{run['id']}", data=update)
    assert done["status"] == "completed" and done["output"]["annotations_count"] == 57
    (stored,) = contract.runs_for(REPO, repo.rev("work"))
    assert len(stored["annotations"]) == 57 and len(stored["updates"]) == 1
    contract.assert_no_violations()


@pytest.mark.contract
async def test_columns_only_on_single_line_annotations(
    contract: FakeGitHub, gh: GitHubAPI, repo: GitRepo
) -> None:
    bad = {**_annotations(1)[0], "end_line": 3, "start_column": 1, "end_column": 2}
    body = {"name": "relo", "head_sha": repo.rev("work"),
            "output": {"title": "t", "summary": "s", "annotations": [bad]}}
    with pytest.raises(gidgethub.BadRequest):
        await gh.post(f"/repos/{REPO}/check-runs", data=body)
    assert "start_column/end_column" in contract.violations[0]


# -- correct calls are served, in GitHub's shapes ---------------------------------------------


@pytest.mark.contract
async def test_review_flow_is_accepted(contract: FakeGitHub, gh: GitHubAPI, repo: GitRepo) -> None:
    head = repo.rev("work")
    pull = await gh.getitem(f"/repos/{REPO}/pulls/1")
    assert pull["head"]["sha"] == head and pull["base"]["ref"] == "main"
    assert pull["changed_files"] == 2 and pull["commits"] == 1
    files = [f async for f in gh.getiter(f"/repos/{REPO}/pulls/1/files")]
    assert {f["filename"]: f["status"] for f in files} == {"src/app.py": "modified",
                                                          "src/new.py": "added"}
    assert "+x20 = 40" in files[0]["patch"]
    run = await gh.post(f"/repos/{REPO}/check-runs",
                        data={"name": "relo", "head_sha": head, "status": "in_progress"})
    assert run["pull_requests"][0]["number"] == 1
    await gh.patch(f"/repos/{REPO}/check-runs/{run['id']}",
                   data={"status": "completed", "conclusion": "success",
                         "output": {"title": "8/10", "summary": "Good"}})
    listed = await gh.getitem(f"/repos/{REPO}/commits/work/check-runs?check_name=relo")
    assert listed["total_count"] == 1 and listed["check_runs"][0]["conclusion"] == "success"
    comment = await gh.post(f"/repos/{REPO}/issues/1/comments", data={"body": "Score: 8/10"})
    assert comment["user"] == {**comment["user"], "login": "relo-review[bot]", "type": "Bot"}
    await gh.patch(f"/repos/{REPO}/issues/comments/{comment['id']}", data={"body": "Score: 9"})
    assert [c["body"] for c in contract.comments_on(REPO, 1)] == ["Score: 9"]
    compare = await gh.getitem(f"/repos/{REPO}/compare/main...work")
    assert compare["status"] == "ahead" and compare["ahead_by"] == 1
    assert len(compare["files"]) == 2
    content = await gh.getitem(f"/repos/{REPO}/contents/src/new.py?ref=work")
    assert content["encoding"] == "base64"
    raw = await gh.getitem(f"/repos/{REPO}/contents/src/new.py?ref=work",
                           accept="application/vnd.github.raw")
    assert raw == "print('hi')\n"
    contract.assert_no_violations()


@pytest.mark.contract
async def test_review_comment_must_be_on_a_diff_line(
    contract: FakeGitHub, gh: GitHubAPI, repo: GitRepo
) -> None:
    good = {"path": "src/app.py", "line": 21, "body": "why double?"}
    bad = {"path": "src/app.py", "line": 2, "body": "outside any hunk"}
    with pytest.raises(gidgethub.BadRequest) as caught:
        await gh.post(f"/repos/{REPO}/pulls/1/reviews",
                      data={"event": "COMMENT", "body": "Review", "comments": [good, bad]})
    assert caught.value.status_code == 422
    assert contract.reviews == [] and contract.review_comments == {}
    review = await gh.post(f"/repos/{REPO}/pulls/1/reviews",
                           data={"event": "COMMENT", "body": "Review", "comments": [good]})
    assert review["state"] == "COMMENTED"
    (stored,) = contract.review_comments.values()
    assert stored["diff_hunk"].endswith("+x20 = 40")
    contract.assert_no_violations()


@pytest.mark.contract
async def test_line_error_body_is_githubs(contract: FakeGitHub, http: httpx2.AsyncClient,
                                          repo: GitRepo) -> None:
    body = {"body": "b", "commit_id": repo.rev("work"), "path": "src/app.py", "line": 1}
    response = await http.post(f"/repos/{REPO}/pulls/1/comments", json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == ["Line could not be resolved"]


@pytest.mark.contract
async def test_120_file_pull_is_paginated_with_link_headers(
    contract: FakeGitHub, http: httpx2.AsyncClient, gh: GitHubAPI, repo: GitRepo
) -> None:
    repo.commit({f"pkg/m{i:03}.py": f"v = {i}\n" for i in range(120)}, "many", branch="big")
    contract.add_pull(REPO, 2, head_ref="big")
    first = await http.get(f"/repos/{REPO}/pulls/2/files")
    assert len(first.json()) == 30
    assert first.headers["link"] == (
        f'<{contract.base_url}/repos/{REPO}/pulls/2/files?per_page=30&page=2>; rel="next", '
        f'<{contract.base_url}/repos/{REPO}/pulls/2/files?per_page=30&page=5>; rel="last"'
    )
    middle = await http.get(f"/repos/{REPO}/pulls/2/files?per_page=50&page=2")
    assert len(middle.json()) == 50
    assert {'rel="prev"', 'rel="next"', 'rel="last"', 'rel="first"'} <= set(
        part.split("; ")[1] for part in middle.headers["link"].split(", "))
    names = [f["filename"] async for f in gh.getiter(f"/repos/{REPO}/pulls/2/files?per_page=100")]
    assert len(names) == 122 and len(set(names)) == 122
    assert contract.count("GET", r"/pulls/2/files$") == 4
    contract.assert_no_violations()


# -- archives ---------------------------------------------------------------------------------


@pytest.mark.contract
async def test_tarball_redirects_to_an_archive(contract: FakeGitHub, fake: FakeGitHub,
                                               http: httpx2.AsyncClient, repo: GitRepo) -> None:
    sha = repo.rev("work")
    redirect = await http.get(f"/repos/{REPO}/tarball/work")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location == f"{fake.base_url}/_codeload/{REPO}/legacy.tar.gz/{sha}"
    async with _client(fake) as anonymous:  # the signed link needs no credentials
        archive = await anonymous.get(location)
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        prefix = f"org-homework-{sha[:7]}/"
        assert {name.split("/")[0] for name in tar.getnames()} == {prefix[:-1]}
        member = tar.extractfile(prefix + "src/new.py")
        assert member is not None and member.read() == b"print('hi')\n"
    contract.assert_no_violations()


# -- authentication ---------------------------------------------------------------------------


async def test_installation_token_auth(fake: FakeGitHub) -> None:
    async with _client(fake) as client:
        missing = await client.get(f"/repos/{REPO}/pulls/1")
        assert missing.status_code == 401 and missing.json()["message"] == "Bad credentials"
        token = fake.issue_token(1)
        ok = await client.get(f"/repos/{REPO}/pulls/1", headers={"authorization": f"token {token}"})
        assert ok.status_code == 200
        later = fake.now() + timedelta(hours=2)
        fake.now = lambda: later
        expired = await client.get(f"/repos/{REPO}/pulls/1",
                                   headers={"authorization": f"Bearer {token}"})
        assert expired.status_code == 401
    assert fake.auth_failures[-1].endswith("expired token")


async def test_token_of_another_installation_sees_nothing(fake: FakeGitHub) -> None:
    fake.add_installation(2, "other-org")
    async with _client(fake, headers={"authorization": f"token {fake.issue_token(2)}"}) as c:
        assert (await c.get(f"/repos/{REPO}")).status_code == 404


async def test_jwt_exchange_through_gidgethub(fake: FakeGitHub, keys: tuple[bytes, bytes]) -> None:
    async with _client(fake) as client:
        gh = GitHubAPI(client, "relo-test", base_url=fake.base_url)
        issued = await gidgethub.apps.get_installation_access_token(
            gh, installation_id="1", app_id=fake.app_id, private_key=keys[0])
        assert issued["token"].startswith("ghs_") and issued["expires_at"].endswith("Z")
        assert fake.token_requests[1] == 1
        app = await gh.getitem("/app", jwt=gidgethub.apps.get_jwt(app_id=fake.app_id,
                                                                   private_key=keys[0]))
        assert app["slug"] == "relo-review"
        pulls = await GitHubAPI(client, "t", oauth_token=issued["token"],
                                base_url=fake.base_url).getitem(f"/repos/{REPO}/pulls")
        assert [p["number"] for p in pulls] == [1]


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "999"}, "Issuer"),
        ({"exp_offset": 900}, "too far in the future"),
        ({"iat_offset": -700, "exp_offset": -10}, "expired"),
    ],
)
async def test_bad_jwts_are_refused(fake: FakeGitHub, keys: tuple[bytes, bytes],
                                    claims: dict[str, Any], why: str) -> None:
    now = int(time.time())
    payload = {"iat": now + claims.get("iat_offset", 0), "iss": claims.get("iss", fake.app_id)}
    payload["exp"] = now + claims.get("exp_offset", 540)
    token = jwt.encode(payload, keys[0], algorithm="RS256")
    async with _client(fake) as client:
        response = await client.post("/app/installations/1/access_tokens",
                                     headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401 and why in response.json()["message"]
    assert fake.token_requests[1] == 0


async def test_jwt_signed_by_another_key_is_refused(fake: FakeGitHub) -> None:
    other_private, _ = _keypair()
    token = gidgethub.apps.get_jwt(app_id=fake.app_id, private_key=other_private)
    async with _client(fake) as client:
        response = await client.get("/app", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "could not be decoded" in response.json()["message"]


# -- faults, rate limits, recording -----------------------------------------------------------


async def test_injected_faults_and_rate_limit_headers(fake: FakeGitHub,
                                                      http: httpx2.AsyncClient) -> None:
    fake.fail("GET", r"/pulls/1$", 502, times=2)
    fake.fail("*", r"/compare/", 0)
    assert [(await http.get(f"/repos/{REPO}/pulls/1")).status_code for _ in range(3)] == [
        502, 502, 200]
    with pytest.raises(httpx2.ConnectError):
        await http.get(f"/repos/{REPO}/compare/main...work")
    first = await http.get(f"/repos/{REPO}")
    second = await http.get(f"/repos/{REPO}")
    remaining = int(second.headers["x-ratelimit-remaining"])
    assert remaining == int(first.headers["x-ratelimit-remaining"]) - 1
    assert second.headers["x-ratelimit-resource"] == "core"
    fake.rate_remaining[1] = 0
    limited = await http.get(f"/repos/{REPO}")
    assert limited.status_code == 403 and limited.headers["x-ratelimit-remaining"] == "0"
    assert fake.count("GET", rf"^/repos/{REPO}$") == 3
    assert fake.requests[0].headers["authorization"].startswith("token ghs_")


async def test_fork_pull_reads_the_fork(fake: FakeGitHub, repo: GitRepo, tmp_path: Path,
                                        http: httpx2.AsyncClient) -> None:
    fork = GitRepo.clone(repo, tmp_path / "fork")
    fork.checkout("main")
    head = fork.commit({"src/fork.py": "x = 1\n"}, "from a fork", branch="patch")
    fake.add_repo("student/homework", fork, fork=True, owner_type="User")
    fake.add_pull(REPO, 3, head_ref="patch", head_full_name="student/homework")
    pull = (await http.get(f"/repos/{REPO}/pulls/3")).json()
    assert pull["head"]["sha"] == head and pull["head"]["repo"]["full_name"] == "student/homework"
    files = (await http.get(f"/repos/{REPO}/pulls/3/files")).json()
    assert [f["filename"] for f in files] == ["src/fork.py"]
    listed = (await http.get(f"/repos/{REPO}/pulls?head=student:patch")).json()
    assert [p["number"] for p in listed] == [3]


# -- without the spec, and over TCP -----------------------------------------------------------


async def test_without_spec_nothing_is_validated(tmp_path: Path, repo: GitRepo) -> None:
    fake = FakeGitHub(spec_path=tmp_path / "missing.json")
    fake.add_repo(REPO, repo)
    assert not fake.validating
    async with _client(fake, headers={"authorization": f"token {fake.issue_token()}"}) as c:
        assert (await c.get(f"/repos/{REPO}/nonsense")).status_code == 404
        assert (await c.get(f"/repos/{REPO}")).status_code == 200
    assert fake.violations == []


def test_construction_is_cheap() -> None:
    FakeGitHub()
    started = time.perf_counter()
    for _ in range(10):
        FakeGitHub()
    assert (time.perf_counter() - started) / 10 < 0.05


@pytest.fixture
def served(fake: FakeGitHub) -> Iterator[str]:
    with fake.serve() as url:
        yield url


@pytest.mark.slow
def test_serve_over_tcp(fake: FakeGitHub, served: str) -> None:
    headers = {"authorization": f"token {fake.issue_token()}"}
    with httpx2.Client(base_url=served, headers=headers) as client:
        response = client.get(f"/repos/{REPO}/pulls/1/files", params={"per_page": 1})
    assert response.status_code == 200 and len(response.json()) == 1
    assert response.headers["link"].startswith(f"<{served}/repos/{REPO}/pulls/1/files?")


@pytest.mark.contract
async def test_every_operation_answers_in_githubs_shape(
    contract: FakeGitHub, keys: tuple[bytes, bytes], repo: GitRepo
) -> None:
    """One correct call per operation of the subset; every response matches its schema."""
    app_jwt = gidgethub.apps.get_jwt(app_id=contract.app_id, private_key=keys[0])
    contract.manifest_codes["abc"] = {"id": 77, "slug": "relo-review-test"}
    sha, base = repo.rev("work"), repo.rev("main")
    blob = repo.git("rev-parse", "work:src/new.py").strip()
    r = f"/repos/{REPO}"
    async with _client(contract) as client:

        async def call(method: str, url: str, auth: str | None, **kw: Any) -> Any:
            headers = {"authorization": auth} if auth else {}
            response = await client.request(method, url, headers=headers, **kw)
            assert response.status_code in (200, 201, 204, 302), (url, response.text)
            return response.json() if response.content else None

        jwt_auth = f"Bearer {app_jwt}"
        token = (await call("POST", "/app/installations/1/access_tokens", jwt_auth))["token"]
        auth = f"token {token}"
        await call("GET", "/app", jwt_auth)
        await call("GET", "/app/installations/1", jwt_auth)
        await call("GET", f"{r}/installation", jwt_auth)
        await call("POST", "/app-manifests/abc/conversions", None)
        for url in (r, f"{r}/pulls", f"{r}/pulls/1", f"{r}/pulls/1/files",
                    f"{r}/compare/{base}...{sha}", f"{r}/contents/src?ref=work",
                    f"{r}/contents/src/new.py?ref=work", f"{r}/commits/{sha}",
                    f"{r}/commits?sha=work", f"{r}/commits/{sha}/pulls", f"{r}/tarball/{sha}",
                    f"{r}/git/trees/{sha}?recursive=1", f"{r}/git/blobs/{blob}", "/rate_limit",
                    f"{r}/collaborators/octocat/permission"):
            await call("GET", url, auth)
        run = await call("POST", f"{r}/check-runs", auth,
                         json={"name": "relo", "head_sha": sha, "status": "in_progress"})
        await call("PATCH", f"{r}/check-runs/{run['id']}", auth,
                   json={"conclusion": "success", "output": {"title": "t", "summary": "s"},
                         "actions": [{"label": "Re-run", "description": "Review again",
                                      "identifier": "rerun"}]})
        await call("GET", f"{r}/check-runs/{run['id']}", auth)
        await call("GET", f"{r}/commits/work/check-runs?filter=all", auth)
        await call("GET", f"{r}/check-suites/{run['check_suite']['id']}/check-runs", auth)
        comment = await call("POST", f"{r}/issues/1/comments", auth, json={"body": "hi"})
        await call("PATCH", f"{r}/issues/comments/{comment['id']}", auth, json={"body": "hey"})
        await call("GET", f"{r}/issues/1/comments", auth)
        await call("POST", f"{r}/issues/comments/{comment['id']}/reactions", auth,
                   json={"content": "rocket"})
        await call("POST", f"{r}/issues", auth, json={"title": "Grading failed", "body": "x"})
        await call("POST", f"{r}/pulls/1/reviews", auth, json={
            "event": "REQUEST_CHANGES", "body": "see inline",
            "comments": [{"path": "src/app.py", "start_line": 19, "line": 21, "body": "why?"}]})
        await call("GET", f"{r}/pulls/1/reviews", auth)
        single = await call("POST", f"{r}/pulls/1/comments", auth, json={
            "body": "file note", "commit_id": sha, "path": "src/new.py", "subject_type": "file"})
        await call("GET", f"{r}/pulls/1/comments", auth)
        await call("DELETE", f"{r}/pulls/comments/{single['id']}", auth)
        await call("GET", f"{r}/commits/{sha}/check-suites", auth)
        await call("GET", f"{r}/branches/work", auth)
        contract.orgs.set_member("org", "octocat", role="admin")
        contract.orgs.set_team_member("org", "reviewers", "octocat", role="maintainer")
        await call("GET", "/orgs/org/memberships/octocat", auth)
        await call("GET", "/orgs/org/teams/reviewers/memberships/octocat", auth)
        flow = contract.actions.add_workflow(REPO, run_name="grade {submission}")
        dispatch = f"{r}/actions/workflows/{flow.id}/dispatches"
        assert await call("POST", dispatch, auth, json={"ref": "main"}) is None
        details = await call("POST", dispatch, auth, json={
            "ref": "main", "inputs": {"submission": "s-1"}, "return_run_details": True})
        run_id = details["workflow_run_id"]
        await call("GET", f"{r}/actions/workflows/grade.yml/runs?event=workflow_dispatch", auth)
        assert (await call("GET", f"{r}/actions/runs/{run_id}", auth))["display_title"] == (
            "grade s-1")
        contract.actions.complete_run(run_id, artifacts={"junit": zip_of({"junit.xml": "<x/>"})})
        listed = await call("GET", f"{r}/actions/runs/{run_id}/artifacts", auth)
        await call("GET", f"{r}/actions/artifacts/{listed['artifacts'][0]['id']}/zip", auth)
        await call("GET", f"{r}/commits/main/check-suites", auth)
    assert contract.contract is not None
    seen = set()
    for request in contract.requests:
        matched = contract.contract.match(request.method, request.path)
        if not isinstance(matched, str):
            seen.add(matched[0].operation_id)
    assert seen == {op.operation_id for op in contract.contract.operations}
    contract.assert_no_violations()
