"""The head's content of the changed files, in two requests whatever the number of files.

We ask for the tarball (GitHub answers 302 to a short-lived link), stream it, and keep only the
members we need, each capped in size. Nothing is written to disk, so hostile member names
(`../../etc/passwd`, links) cannot escape anywhere; the tar parsing runs in a thread so the
event loop never waits on decompression.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import queue
import tarfile
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx2

from app.github.api import USER_AGENT

_END = b""


class ContentError(Exception):
    """The submission's content could not be downloaded."""


@dataclass(frozen=True, slots=True)
class Contents:
    files: dict[str, bytes] = field(default_factory=dict)
    too_large: tuple[str, ...] = ()


class _ChunkReader(io.RawIOBase):
    """A blocking file object over chunks fed from the event loop, for tarfile's stream mode."""

    def __init__(self, chunks: queue.Queue[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._done = False
        self.abandoned = False  # set from the loop when the download is cancelled

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buffer and not self._done:
            try:
                chunk = self._chunks.get(timeout=1.0)
            except queue.Empty:
                if self.abandoned:
                    raise OSError("download abandoned") from None
                continue
            if chunk is _END or chunk == b"":
                self._done = True
            else:
                self._buffer = chunk
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _extract(reader: io.RawIOBase, wanted: Collection[str], max_file_bytes: int) -> Contents:
    files: dict[str, bytes] = {}
    too_large: list[str] = []
    try:
        with tarfile.open(fileobj=io.BufferedReader(reader), mode="r|gz") as archive:
            for member in archive:
                # GitHub prefixes every member with "<owner>-<repo>-<sha>/".
                _, _, path = member.name.partition("/")
                if path not in wanted or not member.isfile():
                    continue
                if member.size > max_file_bytes:
                    too_large.append(path)
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    files[path] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ContentError(f"The repository archive could not be read ({exc}).") from exc
    finally:
        # Drain the feeder so it never blocks on a full queue after an early error.
        with contextlib.suppress(OSError):
            while reader.read(65536):
                pass
    return Contents(files=files, too_large=tuple(too_large))


async def fetch_contents(
    http: httpx2.AsyncClient,
    *,
    api_url: str,
    token: str,
    repo: str,
    ref: str,
    paths: Collection[str],
    max_file_bytes: int,
    max_archive_bytes: int,
) -> Contents:
    """Download `repo` at `ref` as a tarball and return the content of `paths`."""
    wanted = frozenset(paths)
    if not wanted:
        return Contents()
    url = f"{api_url.rstrip('/')}/repos/{repo}/tarball/{quote(ref, safe='')}"
    headers = {"authorization": f"token {token}", "user-agent": USER_AGENT}
    try:
        first = await http.get(url, headers=headers, follow_redirects=False)
    except httpx2.HTTPError as exc:
        raise ContentError(f"GitHub could not be reached for the archive ({exc}).") from exc
    if first.status_code not in {301, 302, 303, 307, 308} or "location" not in first.headers:
        raise ContentError(f"GitHub answered {first.status_code} to the archive request.")
    location = first.headers["location"]

    chunks: queue.Queue[bytes] = queue.Queue(maxsize=16)
    reader = _ChunkReader(chunks)
    loop = asyncio.get_running_loop()
    extraction = loop.run_in_executor(None, _extract, reader, wanted, max_file_bytes)
    received = 0
    try:
        async with http.stream("GET", location, headers={"user-agent": USER_AGENT}) as response:
            if response.status_code != 200:
                raise ContentError(f"The archive link answered {response.status_code}.")
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_archive_bytes:
                    raise ContentError(
                        f"The repository archive is larger than {max_archive_bytes} bytes."
                    )
                await loop.run_in_executor(None, chunks.put, chunk)
    except asyncio.CancelledError:
        reader.abandoned = True
        raise
    except (ContentError, httpx2.HTTPError) as exc:
        await loop.run_in_executor(None, chunks.put, _END)
        with contextlib.suppress(ContentError):
            await extraction
        if isinstance(exc, ContentError):
            raise
        raise ContentError(f"The archive download failed ({exc}).") from exc
    await loop.run_in_executor(None, chunks.put, _END)
    return await extraction
