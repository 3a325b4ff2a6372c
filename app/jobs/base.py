"""What the web process needs of a queue: somewhere to put a stored review id."""

from __future__ import annotations

from typing import Protocol


class Queue(Protocol):
    @property
    def depth(self) -> int: ...

    async def start(self) -> None: ...

    async def enqueue(self, review_id: int) -> None: ...

    async def stop(self, grace: float = 30.0) -> None: ...
