"""The long-lived dependencies of a running process, built once by app.compose and passed
around: what the web process holds, and what a worker holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.config import Settings
from app.jobs.base import Queue
from app.jobs.runner import Runner
from app.jobs.store import JobStore
from app.ledger import Ledger
from app.metrics import Metrics

if TYPE_CHECKING:  # the web process's alone: workers never import it
    from app.intake import Intake


@dataclass(slots=True)
class Services:
    """The web process: it takes deliveries and enqueues reviews."""

    settings: Settings
    ledger: Ledger
    store: JobStore
    intake: Intake
    queue: Queue
    metrics: Metrics
    runner: Runner | None  # only where this process also runs reviews


@dataclass(slots=True)
class WorkerServices:
    """A process that runs reviews."""

    settings: Settings
    store: JobStore
    runner: Runner
    metrics: Metrics
