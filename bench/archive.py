"""Archive: `fetch_contents` on a tarball with one 99 MB blob at 10 paths (all over the per-file
cap, so all skipped) plus one small wanted file, against the cost of just decompressing the
same archive once, measured in the same run. Skipping must cost about one decompression: a
reader that copied its buffer on every read took ~38 s for this archive.

`python -m bench.archive` (BENCH_QUICK=1: a 10 MB blob).
"""

from __future__ import annotations

import asyncio
import io
import tarfile
import time
import zlib

import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.github.api import GitHubClient
from app.github.content import fetch_contents
from bench.common import Result, header, quick

MiB = 1024 * 1024
PATHS = [f"data/blob{i}.bin" for i in range(10)]
TARGET_RATIO = 2.0


def build_archive(blob_bytes: int) -> bytes:
    """A GitHub-style tarball: every member under `<owner>-<repo>-<sha>/`."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
        blob = bytes(blob_bytes)
        for path in PATHS:
            info = tarfile.TarInfo(f"acme-task-abc1234/{path}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        small = b"x = 1\n"
        info = tarfile.TarInfo("acme-task-abc1234/app/small.py")
        info.size = len(small)
        tar.addfile(info, io.BytesIO(small))
    return out.getvalue()


def decompress_once(archive: bytes) -> float:
    """The floor: inflate the whole archive once, discarding the output."""
    started = time.perf_counter()
    inflate = zlib.decompressobj(wbits=31)
    view = memoryview(archive)
    for start in range(0, len(archive), MiB):
        inflate.decompress(view[start : start + MiB], MiB)
        while inflate.unconsumed_tail:
            inflate.decompress(inflate.unconsumed_tail, MiB)
    return time.perf_counter() - started


async def fetch_once(archive: bytes) -> tuple[float, tuple[str, ...]]:
    async def tarball(request: Request) -> Response:
        return RedirectResponse("https://codeload.test/archive.tar.gz", status_code=302)

    async def codeload(request: Request) -> Response:
        return Response(archive, media_type="application/x-gzip")

    app = Starlette(routes=[
        Route("/repos/acme/task/tarball/{ref}", tarball),
        Route("/archive.tar.gz", codeload),
    ])
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)) as http:
        gh = GitHubClient(http, base_url="https://api.github.test", oauth_token="t")
        started = time.perf_counter()
        contents = await fetch_contents(gh, repo="acme/task", ref="abc1234",
                                        paths=[*PATHS, "app/small.py"], max_file_bytes=MiB,
                                        max_archive_bytes=100 * MiB)
        elapsed = time.perf_counter() - started
    assert contents.files == {"app/small.py": b"x = 1\n"}, contents.files.keys()
    return elapsed, contents.too_large


def run() -> Result:
    blob = (10 if quick() else 99) * 1000 * 1000
    result = header("archive", f"a {blob // 10**6} MB blob at 10 paths, skipped")
    archive = build_archive(blob)
    result.say(f"archive: {len(archive):,} bytes gzipped, {10 * blob:,} bytes of members")
    floor = min(decompress_once(archive) for _ in range(2))
    took, skipped = asyncio.run(fetch_once(archive))
    result.say(f"fetch_contents {took:.2f} s; decompressing once {floor:.2f} s")
    ratio = took / floor
    result.say(f"RATIO {ratio:.2f}")
    result.check("big members skipped", f"{len(skipped)} of 10", "10", len(skipped) == 10)
    result.check("cost of skipping vs one decompression", f"{ratio:.2f}",
                 f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO)
    return result


if __name__ == "__main__":
    run()
