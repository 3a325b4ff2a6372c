"""The head's content of the changed files, in two requests whatever the number of files.

We ask for the tarball through the GitHub client (GitHub answers 302 to a short-lived link),
spool the download to a size-capped temporary file from the event loop, then read the members
we need in one worker thread, each capped in size. The thread waits on nothing the loop must
feed, so any number of concurrent downloads share the default thread pool without a deadlock.
Nothing is extracted to disk, so hostile member names (`../../etc/passwd`, links) cannot escape.
"""

from __future__ import annotations

import asyncio
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import quote

from app.github.api import GitHubClient

SPOOL_IN_MEMORY = 8 * 1024 * 1024  # larger archives roll over to a temporary file
WRITE_BATCH = 1024 * 1024  # disk writes leave the loop in batches of this size


class ContentError(Exception):
    """The submission's content could not be downloaded."""


@dataclass(frozen=True, slots=True)
class Contents:
    files: dict[str, bytes] = field(default_factory=dict)
    too_large: tuple[str, ...] = ()


class _Spool:
    """The archive as it arrives: in memory while small, then in a temporary file."""

    def __init__(self, max_bytes: int) -> None:
        # Closed by whoever ends up owning it (see `_Extraction`), not by a `with` block.
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._max_bytes = max_bytes
        self._pending = bytearray()
        self._written = 0

    async def write(self, chunk: bytes) -> None:
        if self._written + len(self._pending) + len(chunk) > self._max_bytes:
            raise ContentError(f"The repository archive is larger than {self._max_bytes} bytes.")
        self._pending += chunk
        if len(self._pending) >= WRITE_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        if self._written + len(data) > SPOOL_IN_MEMORY:
            await asyncio.to_thread(self.file.write, data)  # on disk: a blocking write
        else:
            self.file.write(data)
        self._written += len(data)

    async def reset(self) -> None:
        self._pending.clear()
        self._written = 0
        await asyncio.to_thread(self._truncate)

    def _truncate(self) -> None:
        self.file.seek(0)
        self.file.truncate()


class _Extraction:
    """Who closes the spool: the thread once it runs, else the loop if it is cancelled first."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._started = False

    def run(self, wanted: Collection[str], max_file_bytes: int) -> Contents:
        with self._lock:
            if self.stop.is_set():
                return Contents()
            self._started = True
        try:
            return _extract(self.spool, wanted, max_file_bytes, self.stop)
        finally:
            self.spool.close()

    def abandon(self) -> None:
        with self._lock:
            self.stop.set()
            if not self._started:
                self.spool.close()


def _extract(
    spool: IO[bytes], wanted: Collection[str], max_file_bytes: int, stop: threading.Event
) -> Contents:
    """Read the wanted members; others are skipped by seeking, never copied."""
    files: dict[str, bytes] = {}
    too_large: list[str] = []
    spool.seek(0)
    try:
        with tarfile.open(fileobj=spool, mode="r:gz") as archive:
            for member in archive:
                if stop.is_set():
                    break
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
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ContentError(f"The repository archive could not be read ({exc}).") from exc
    return Contents(files=files, too_large=tuple(too_large))


async def fetch_contents(
    gh: GitHubClient,
    *,
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
    location = await gh.redirect_location(f"/repos/{repo}/tarball/{quote(ref, safe='')}")
    spool = _Spool(max_archive_bytes)
    try:
        await gh.download(location, spool)
        await spool.flush()
    except BaseException:
        spool.file.close()
        raise
    extraction = _Extraction(spool.file)
    try:
        return await asyncio.to_thread(extraction.run, wanted, max_file_bytes)
    except asyncio.CancelledError:
        extraction.abandon()
        raise
