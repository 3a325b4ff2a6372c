"""What the web process needs of a queue: somewhere to put a stored review id."""

from __future__ import annotations

from typing import Protocol


class Queue(Protocol):
    async def start(self) -> None: ...

    async def enqueue(self, review_id: int) -> None: ...

    async def size(self) -> int:
        """Reviews waiting to start."""
        ...

    async def sweep(self) -> None:
        """Enqueue what the ledger says is runnable (after a restart or a dead worker)."""
        ...

    async def stop(self, grace: float = 30.0) -> None: ...

    def health(self) -> list[str]:
        """What is wrong with the loops this process runs for the queue; empty when none."""
        ...
