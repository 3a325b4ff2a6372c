"""The tarball: spooled from the loop, read in one thread, so concurrent downloads never wait on
each other for threads; big members are skipped; a broken download starts over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from app.github.api import GitHubClient
from app.github.content import ContentError, fetch_contents
from tests.fakes.github import FakeGitHub
from tests.scenarios import REPO, make_repo

MiB = 1024 * 1024


async def _no_wait(seconds: float) -> None:
    return None


def client(fake: FakeGitHub, http: httpx2.AsyncClient) -> GitHubClient:
    return GitHubClient(http, base_url=fake.base_url, oauth_token=fake.issue_token(1),
                        sleep=_no_wait)


async def test_eight_concurrent_downloads_share_a_small_thread_pool(
    fake_github: FakeGitHub, github_http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    # Fewer threads than downloads: an extraction that waited for chunks fed through the
    # same pool would hold every thread and starve the feeders for ever.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2))
    heads = []
    for i in range(8):
        name = f"acme/task-{i}"
        git = make_repo(tmp_path, fake_github, name)
        code = "".join(f"value_{i}_{n} = {n}\n" for n in range(20_000))  # spans many chunks
        heads.append((name, git.commit({"app/main.py": code}, "work", branch="feature")))
    gh = client(fake_github, github_http)
    async with asyncio.timeout(60):  # a deadlock guard, not a timing assertion
        results = await asyncio.gather(*(
            fetch_contents(gh, repo=name, ref=sha, paths=["app/main.py", "README.md"],
                           max_file_bytes=MiB, max_archive_bytes=10 * MiB)
            for name, sha in heads
        ))
    for i, contents in enumerate(results):
        assert contents.files["app/main.py"].startswith(f"value_{i}_0 = 0\n".encode())
        assert contents.files["README.md"] == b"# Task\n" and contents.too_large == ()


async def test_a_big_member_at_ten_paths_is_skipped(
    fake_github: FakeGitHub, github_http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    big = bytes(3 * MiB)
    paths = [f"data/copy{i}.bin" for i in range(10)]
    head = git.commit({**dict.fromkeys(paths, big), "app/small.py": "x = 1\n"}, "blobs",
                      branch="feature")
    contents = await fetch_contents(
        client(fake_github, github_http), repo=REPO, ref=head, paths=[*paths, "app/small.py"],
        max_file_bytes=MiB, max_archive_bytes=10 * MiB,
    )
    assert contents.files == {"app/small.py": b"x = 1\n"}
    assert sorted(contents.too_large) == paths


async def test_an_archive_over_the_cap_is_refused(
    fake_github: FakeGitHub, github_http: httpx2.AsyncClient, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    head = git.commit({"app/noise.py": "".join(f"# {n * 7919}\n" for n in range(50_000))},
                      "noise", branch="feature")
    with pytest.raises(ContentError, match="larger than 10000 bytes"):
        await fetch_contents(client(fake_github, github_http), repo=REPO, ref=head,
                             paths=["app/noise.py"], max_file_bytes=MiB,
                             max_archive_bytes=10_000)


class _Broken(httpx2.AsyncByteStream):
    """The start of a body, then the connection resets."""

    def __init__(self, start: bytes) -> None:
        self.start = start

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.start
        raise httpx2.ReadError("connection reset by peer")


class _ResetOnce(httpx2.AsyncBaseTransport):
    """The fake GitHub, except that the first archive download breaks half-way."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.broken = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.startswith("/_codeload/") and not self.broken:
            self.broken += 1
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            return httpx2.Response(200, headers=response.headers, stream=_Broken(body[:100]))
        return response


async def test_a_download_that_breaks_half_way_starts_over(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    git = make_repo(tmp_path, fake_github)
    head = git.commit({"app/a.py": "print('a')\n"}, "work", branch="feature")
    transport = _ResetOnce(httpx2.ASGITransport(app=fake_github.app))
    async with httpx2.AsyncClient(transport=transport, base_url=fake_github.base_url) as http:
        contents = await fetch_contents(client(fake_github, http), repo=REPO, ref=head,
                                        paths=["app/a.py"], max_file_bytes=MiB,
                                        max_archive_bytes=MiB)
    assert transport.broken == 1
    assert contents.files == {"app/a.py": b"print('a')\n"}
